"""node-exporter as the compose stack runs it (command from the rendered compose config): with the
host's root mounted recursively and --path.rootfs, it reports the host's filesystems under their
host paths ("/", not "/host/..."), and its default mount-point exclusion (no custom flag replaces
it) keeps pseudo and container-storage mounts out. Runs Debian's prometheus-node-exporter in a
private mount and network namespace (tests/integration/node_exporter_child.py); root and unshare
are needed."""

from __future__ import annotations

import json
import re
import shutil

from tests.config.test_compose import env_file_for, run_compose
from tests.integration.namespaced import run_namespaced


def test_node_exporter_reports_the_host_filesystems_with_the_default_exclusion(tmp_path):
    assert shutil.which("prometheus-node-exporter"), (
        "prometheus-node-exporter missing: apt-get install -y prometheus-node-exporter"
    )
    r = run_compose(env_file_for(tmp_path / ".env"), "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    ne = json.loads(r.stdout)["services"]["node-exporter"]
    result = run_namespaced("tests.integration.node_exporter_child", json.dumps(ne["command"]), timeout_s=120)
    mountpoints = result["mountpoints"]
    assert "/" in mountpoints, mountpoints
    assert not [m for m in mountpoints if m.startswith(result["host_prefix"])], "the rootfs prefix must be stripped"
    # the exporter's built-in exclusion applies (the compose command sets none of its own)
    assert not [m for m in mountpoints if re.match(r"^/(dev|proc|sys|var/lib/docker/.+)($|/)", m)], mountpoints
