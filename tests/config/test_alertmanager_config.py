"""config/alertmanager: amtool validity (templates parsed), the routing tree as route tests, the
PagerDuty variant in sync, secrets only by file, and the conventions of every receiver."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.tools import require
from observatory.monitoring import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_PAGERDUTY_CONFIG,
    load_yaml,
)
from observatory.monitoring.amconfig import (
    FAST_TIMING,
    Endpoints,
    pagerduty_variant_text,
    render,
    write,
)

AMTOOL = require("amtool")

# (labels, receivers in routing order) for the repo config
ROUTES = [
    ({"alertname": "ServiceDown", "service": "consumer", "severity": "critical"}, "oncall-critical"),
    ({"alertname": "QueueBacklogHigh", "service": "consumer", "severity": "warning"}, "slack-alerts"),
    ({"alertname": "SomethingInformative", "service": "ingest", "severity": "info"}, "slack-alerts"),
    ({"alertname": "RevenueAnomaly", "team": "business", "severity": "warning"}, "slack-business"),
    ({"alertname": "RevenueDrop", "team": "business", "severity": "critical"}, "slack-business"),
    ({"alertname": "Unlabelled"}, "slack-alerts"),
]
PAGERDUTY_ROUTES = [
    ({"alertname": "ServiceDown", "service": "consumer", "severity": "critical"}, "pagerduty,oncall-critical"),
    ({"alertname": "QueueBacklogHigh", "service": "consumer", "severity": "warning"}, "slack-alerts"),
    ({"alertname": "RevenueDrop", "team": "business", "severity": "critical"}, "slack-business"),
]


def _amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize("path", [ALERTMANAGER_CONFIG, ALERTMANAGER_PAGERDUTY_CONFIG], ids=lambda p: p.name)
def test_check_config(path: Path):
    result = _amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_templates_parse_in_a_rendered_config(tmp_path):
    """The repo file points at container paths; the rendered copy points at the repo's templates, so
    amtool really parses them."""
    cfg = render(Endpoints(slack_url_file=tmp_path / "url", smtp_smarthost="127.0.0.1:25", email_to="a@b.test"),
                 FAST_TIMING)
    path = write(cfg, tmp_path / "alertmanager.yml")
    result = _amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


@pytest.mark.parametrize(("labels", "receivers"), ROUTES, ids=lambda v: str(v))
def test_routes(labels, receivers):
    args = [f"{k}={v}" for k, v in labels.items()]
    result = _amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
                     f"--verify.receivers={receivers}", *args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("labels", "receivers"), PAGERDUTY_ROUTES, ids=lambda v: str(v))
def test_pagerduty_variant_routes(labels, receivers):
    args = [f"{k}={v}" for k, v in labels.items()]
    result = _amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_PAGERDUTY_CONFIG}",
                     f"--verify.receivers={receivers}", *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_route_expectation_fails():
    """The route checks above can fail: amtool exits non-zero on a receiver mismatch."""
    result = _amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
                     "--verify.receivers=slack-alerts", "severity=critical")
    assert result.returncode != 0


def test_pagerduty_variant_is_in_sync():
    assert ALERTMANAGER_PAGERDUTY_CONFIG.read_text() == pagerduty_variant_text(), (
        "regenerate it: .venv/bin/python -m observatory.monitoring.amconfig")


def test_secrets_come_from_files_only():
    cfg = load_yaml(ALERTMANAGER_CONFIG)
    g = cfg["global"]
    assert g["slack_api_url_file"].startswith("/etc/alertmanager/secrets/")
    assert g["smtp_auth_password_file"].startswith("/etc/alertmanager/secrets/")
    text = ALERTMANAGER_CONFIG.read_text()
    for inline in ("slack_api_url:", "api_url:", "smtp_auth_password:", "routing_key:", "service_key:"):
        assert f"\n  {inline}" not in text and f" {inline} " not in text, f"inline secret key {inline} in the config"
    assert "hooks.slack.com" not in text


def test_receivers_follow_the_conventions():
    cfg = load_yaml(ALERTMANAGER_CONFIG)
    route = cfg["route"]
    assert route["group_by"] == ["alertname", "service"]
    by_receiver = {r["receiver"]: r for r in route["routes"]}
    assert by_receiver["oncall-critical"]["repeat_interval"] == "30m"
    assert by_receiver["slack-alerts"]["repeat_interval"] == "4h"
    receivers = {r["name"]: r for r in cfg["receivers"]}
    channels = {name: [s["channel"] for s in r.get("slack_configs", [])] for name, r in receivers.items()}
    assert channels == {"slack-alerts": ["#alerts"], "slack-business": ["#alerts-business"],
                        "oncall-critical": ["#alerts-critical"], "pagerduty": []}
    for r in receivers.values():
        for kind in ("slack_configs", "email_configs", "pagerduty_configs"):
            for c in r.get(kind, []):
                assert c.get("send_resolved") is True, f"{r['name']}: send_resolved must be true"
    (email,) = receivers["oncall-critical"]["email_configs"]
    assert email["text"] and email["html"], "emails need a text part as well as HTML"


def test_inhibitions():
    rules = load_yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]
    twin = next(r for r in rules if r["source_matchers"] == ['severity="critical"'])
    assert twin["target_matchers"] == ['severity="warning"'] and set(twin["equal"]) == {"alertname", "service"}
    down = next(r for r in rules if r["source_matchers"] == ['alertname="ServiceDown"'])
    assert down["equal"] == ["service"]
