"""config/prometheus/prometheus.yml's `consumer` job (DNS service discovery) in a real Prometheus
against a DNS server that answers the way Docker's does for `--scale consumer=2`: one A record per
replica. Each replica must be its own target, so samples of different replicas never share a series.
Runs in a private network and mount namespace (tests/integration/dns_discovery_child.py): root and
`unshare` are needed, as for the compose stack itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.tools import require

require("prometheus")


def test_each_scaled_consumer_replica_is_its_own_target():
    unshare = shutil.which("unshare")
    assert unshare and os.geteuid() == 0, "this test needs root and unshare (util-linux)"
    r = subprocess.run(
        [
            unshare,
            "--net",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-m",
            "tests.integration.dns_discovery_child",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert "static_configs" not in result["job"], "the consumer job must not be a single static target"
    assert result["targets"] == ["127.0.0.2:9101", "127.0.0.3:9101"]
    # one series per replica, each with its own value: nothing mixes
    assert result["samples"] == {"127.0.0.2:9101": 5.0, "127.0.0.3:9101": 7.0}
