"""node-exporter as the compose stack runs it (command from the rendered compose config): with the
host's root mounted recursively and --path.rootfs, it reports the host's filesystems under their
host paths ("/", not "/host/..."), and its default mount-point exclusion (no custom flag replaces
it) keeps pseudo and container-storage mounts out. Runs Debian's prometheus-node-exporter in a
private mount and network namespace (tests/integration/node_exporter_child.py); root and unshare
are needed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

from tests.config.test_compose import env_file_for, run_compose

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_node_exporter_reports_the_host_filesystems_with_the_default_exclusion(tmp_path):
    binary, unshare = shutil.which("prometheus-node-exporter"), shutil.which("unshare")
    assert binary, "prometheus-node-exporter missing: apt-get install -y prometheus-node-exporter"
    assert unshare and os.geteuid() == 0, "this test needs root and unshare (util-linux)"
    r = run_compose(env_file_for(tmp_path / ".env"), "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    ne = json.loads(r.stdout)["services"]["node-exporter"]
    child = subprocess.run(
        [
            unshare,
            "--net",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-m",
            "tests.integration.node_exporter_child",
            json.dumps(ne["command"]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    mountpoints = result["mountpoints"]
    assert "/" in mountpoints, mountpoints
    assert not [m for m in mountpoints if m.startswith(result["host_prefix"])], "the rootfs prefix must be stripped"
    # the exporter's built-in exclusion applies (the compose command sets none of its own)
    assert not [m for m in mountpoints if re.match(r"^/(dev|proc|sys|var/lib/docker/.+)($|/)", m)], mountpoints
