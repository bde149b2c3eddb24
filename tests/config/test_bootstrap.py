"""scripts/bootstrap.sh never stops or disables a service that was on the machine before it ran.

The packages it installs are kept from starting their daemons by scripts/policy-rc.sh, installed as
/usr/sbin/policy-rc.d for the length of the install only; here it runs for real with its files in a
temporary folder.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "scripts" / "policy-rc.sh"


def _policy(tmp_path: Path, *args: str) -> int:
    env = {"PATH": "/usr/bin:/bin", "OBS_POLICY_RC_BASE": str(tmp_path / "policy-rc.d")}
    return subprocess.run([str(POLICY), *args], env=env, check=False).returncode


def test_bootstrap_never_stops_or_disables_existing_services() -> None:
    text = (REPO / "scripts" / "bootstrap.sh").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"systemctl\s+(disable\s+--now|stop|mask)", code)
    assert not re.search(r"\bservice\s+\S+\s+stop", code)
    # the only `systemctl disable` is over the packages just installed (install_quietly's arguments)
    assert re.findall(r"systemctl disable \S+", code) == ['systemctl disable "$unit.service"']
    assert 'for unit in "$@"' in code


def test_policy_denies_only_the_packages_being_installed(tmp_path: Path) -> None:
    (tmp_path / "policy-rc.d.observatory-deny").write_text("rabbitmq-server\nprometheus\n")
    assert _policy(tmp_path, "rabbitmq-server", "start") == 101
    assert _policy(tmp_path, "--quiet", "prometheus", "restart") == 101
    assert _policy(tmp_path, "prometheus-alertmanager", "start") == 0  # a prefix is not a match
    assert _policy(tmp_path, "nginx", "restart") == 0


def test_policy_defers_to_the_machines_own_policy_for_other_services(tmp_path: Path) -> None:
    (tmp_path / "policy-rc.d.observatory-deny").write_text("rabbitmq-server\n")
    saved = tmp_path / "policy-rc.d.observatory-saved"
    saved.write_text('#!/bin/sh\n[ "$1" = nginx ] && exit 104\nexit 0\n')
    saved.chmod(0o755)
    assert _policy(tmp_path, "nginx", "start") == 104
    assert _policy(tmp_path, "postgresql", "start") == 0
    assert _policy(tmp_path, "rabbitmq-server", "start") == 101
