"""config/prometheus/prometheus.yml's `consumer` job (DNS service discovery) in a real Prometheus
against a DNS server that answers the way Docker's does for `--scale consumer=2`: one A record per
replica. Each replica must be its own target, so samples of different replicas never share a series.
Runs in a private network and mount namespace (tests/integration/dns_discovery_child.py): root and
`unshare` are needed, as for the compose stack itself."""

from __future__ import annotations

from tests.integration.namespaced import run_namespaced
from tests.tools import require

require("prometheus")


def test_each_scaled_consumer_replica_is_its_own_target():
    result = run_namespaced("tests.integration.dns_discovery_child", timeout_s=180)
    assert "static_configs" not in result["job"], "the consumer job must not be a single static target"
    assert result["targets"] == ["127.0.0.2:9101", "127.0.0.3:9101"]
    # one series per replica, each with its own value: nothing mixes
    assert result["samples"] == {"127.0.0.2:9101": 5.0, "127.0.0.3:9101": 7.0}
