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


def _install_quietly(tmp_path: Path, *packages: str, apt_fails: bool = False) -> subprocess.CompletedProcess:
    """Run bootstrap.sh's own install_quietly (cut out of the script) with a fake apt-get that asks the
    policy about each package being installed and about nginx, a service that was there before."""
    lines = (REPO / "scripts" / "bootstrap.sh").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("POLICY="))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("install_quietly()"))
    end = next(i for i in range(end, len(lines)) if lines[i] == "}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    apt = bin_dir / "apt-get"
    apt.write_text(
        "#!/bin/bash\n"
        '[ "$1" = install ] || exit 0\n'
        'for a in "$@"; do case "$a" in install|-*) ;; *) "$POLICY_FILE" "$a" start; echo "$a $?" >> "$LOG";; esac; done\n'
        '"$POLICY_FILE" nginx restart; echo "nginx $?" >> "$LOG"\n' + ("exit 100\n" if apt_fails else "exit 0\n")
    )
    apt.chmod(0o755)
    systemctl = bin_dir / "systemctl"  # on a systemd host: no unit to disable (the fake knows none)
    systemctl.write_text("#!/bin/sh\nexit 1\n")
    systemctl.chmod(0o755)
    script = "\n".join(["set -euo pipefail", *lines[start : end + 1], 'install_quietly "$@"'])
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "OBS_POLICY_RC_BASE": str(tmp_path / "policy-rc.d"),
        "POLICY_FILE": str(tmp_path / "policy-rc.d"),
        "LOG": str(tmp_path / "log"),
    }
    return subprocess.run(["bash", "-c", script, "bootstrap", *packages], cwd=REPO, env=env, check=False)


def test_install_denies_only_new_packages_and_puts_the_machines_policy_back(tmp_path: Path) -> None:
    machine = tmp_path / "policy-rc.d"
    machine.write_text('#!/bin/sh\n[ "$1" = nginx ] && exit 104\nexit 0\n')
    machine.chmod(0o755)
    before = machine.read_text()
    assert _install_quietly(tmp_path, "rabbitmq-server", "prometheus").returncode == 0
    assert (tmp_path / "log").read_text().splitlines() == ["rabbitmq-server 101", "prometheus 101", "nginx 104"]
    assert machine.read_text() == before  # the machine's own policy, back in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "log", "policy-rc.d"]


def test_install_without_a_machine_policy_leaves_none_even_when_apt_fails(tmp_path: Path) -> None:
    assert _install_quietly(tmp_path, "caddy", apt_fails=True).returncode != 0
    assert (tmp_path / "log").read_text().splitlines() == ["caddy 101", "nginx 0"]
    assert not (tmp_path / "policy-rc.d").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "log"]
