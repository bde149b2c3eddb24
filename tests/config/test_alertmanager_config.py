"""config/alertmanager: amtool validity (templates parsed), the routing tree as route tests, the
rendering for every channel combination (no channel, Slack, email, both, PagerDuty, OpsGenie, all)
checked with amtool, the compose job that renders it, secrets only by file, and the conventions of
every receiver."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from observatory.monitoring import (
    ALERTMANAGER_CONFIG,
    load_yaml,
)
from observatory.monitoring.amconfig import (
    FAST_TIMING,
    Endpoints,
    from_environment,
    render,
    write,
)
from tests.tools import require

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


def _amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False, timeout=60)


def test_check_config():
    result = _amtool("check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_templates_parse_in_a_rendered_config(tmp_path):
    """The repo file points at container paths; the rendered copy points at the repo's templates, so
    amtool really parses them."""
    cfg = render(
        Endpoints(slack_url_file=tmp_path / "url", smtp_smarthost="127.0.0.1:25", email_to="a@b.test"), FAST_TIMING
    )
    path = write(cfg, tmp_path / "alertmanager.yml")
    result = _amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


@pytest.mark.parametrize(("labels", "receivers"), ROUTES, ids=lambda v: str(v))
def test_routes(labels, receivers):
    args = [f"{k}={v}" for k, v in labels.items()]
    result = _amtool(
        "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", f"--verify.receivers={receivers}", *args
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_route_expectation_fails():
    """The route checks above can fail: amtool exits non-zero on a receiver mismatch."""
    result = _amtool(
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=slack-alerts",
        "severity=critical",
    )
    assert result.returncode != 0


def test_secrets_come_from_files_only():
    cfg = load_yaml(ALERTMANAGER_CONFIG)
    g = cfg["global"]
    assert g["slack_api_url_file"].startswith("/etc/alertmanager/secrets/")
    assert g["smtp_auth_password_file"].startswith("/etc/alertmanager/secrets/")
    text = ALERTMANAGER_CONFIG.read_text()
    for inline in ("slack_api_url:", "api_url:", "smtp_auth_password:", "routing_key:", "service_key:", "api_key:"):
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
    assert channels == {
        "slack-alerts": ["#alerts"],
        "slack-business": ["#alerts-business"],
        "oncall-critical": ["#alerts-critical"],
        "pagerduty": [],
        "opsgenie": [],
    }
    for r in receivers.values():
        for kind in ("slack_configs", "email_configs", "pagerduty_configs", "opsgenie_configs"):
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


# --- every channel combination ------------------------------------------------------------------------
# integration kinds of a receiver config -> the channel names used below
KINDS = {
    "slack_configs": "slack",
    "email_configs": "email",
    "pagerduty_configs": "pagerduty",
    "opsgenie_configs": "opsgenie",
}
CRITICAL = {"alertname": "ServiceDown", "service": "consumer", "severity": "critical"}
WARNING = {"alertname": "QueueBacklogHigh", "service": "consumer", "severity": "warning"}
BUSINESS = {"alertname": "RevenueDrop", "team": "business", "severity": "critical"}
NOTIFY_FAILING = {"alertname": "AlertmanagerNotificationsFailing", "service": "alertmanager", "severity": "critical"}


def endpoints(tmp: Path, channels: set[str]) -> Endpoints:
    e = Endpoints()
    if "slack" in channels:
        e.slack_url_file = tmp / "slack-webhook-url"
    if "email" in channels:
        e.smtp_smarthost, e.email_to = "smtp.site.test:587", "oncall@site.test"
    if "pagerduty" in channels:
        e.pagerduty_key_file = tmp / "pagerduty-routing-key"
    if "opsgenie" in channels:
        e.opsgenie_key_file = tmp / "opsgenie-api-key"
    return e


# combination -> the channels a critical, a warning and a business alert reach
COMBOS = {
    "none": (set(), set(), set(), set()),
    "slack": ({"slack"}, {"slack"}, {"slack"}, {"slack"}),
    "email": ({"email"}, {"email"}, set(), set()),
    "slack+email": ({"slack", "email"}, {"slack", "email"}, {"slack"}, {"slack"}),
    "pagerduty": ({"pagerduty"}, {"pagerduty"}, set(), set()),
    "opsgenie": ({"opsgenie"}, {"opsgenie"}, set(), set()),
    "all": (
        {"slack", "email", "pagerduty", "opsgenie"},
        {"slack", "email", "pagerduty", "opsgenie"},
        {"slack"},
        {"slack"},
    ),
}


def reached(path: Path, cfg: dict, labels: dict) -> set[str]:
    """The channels an alert with these labels reaches: amtool's routing, then the rendered receivers."""
    result = _amtool("config", "routes", "test", f"--config.file={path}", *[f"{k}={v}" for k, v in labels.items()])
    assert result.returncode == 0, result.stdout + result.stderr
    names = [n.strip() for n in result.stdout.strip().split(",") if n.strip()]
    receivers = {r["name"]: r for r in cfg["receivers"]}
    assert names and all(n in receivers for n in names), result.stdout
    return {KINDS[k] for n in names for k in receivers[n] if k in KINDS and receivers[n][k]}


@pytest.mark.parametrize("combo", sorted(COMBOS), ids=str)
def test_each_channel_combination_routes_only_to_configured_channels(tmp_path, combo):
    configured, critical, warning, business = COMBOS[combo]
    e = endpoints(tmp_path, configured)
    assert set(e.channels()) == configured
    cfg = render(e, templates_dir=ALERTMANAGER_CONFIG.parent / "templates")
    path = write(cfg, tmp_path / "alertmanager.yml")
    check = _amtool("check-config", str(path))
    assert check.returncode == 0, check.stdout + check.stderr
    used = {KINDS[k] for r in cfg["receivers"] for k in r if k in KINDS}
    assert used == configured, f"{combo}: receivers hold {used}"
    assert reached(path, cfg, CRITICAL) == critical
    assert reached(path, cfg, WARNING) == warning
    assert reached(path, cfg, BUSINESS) == business
    # the alert about failing notifications never goes to a channel that is not configured
    assert reached(path, cfg, NOTIFY_FAILING) <= configured
    g = cfg["global"]
    assert ("slack_api_url_file" in g) == ("slack" in configured)
    assert any(k.startswith("smtp_") for k in g) == ("email" in configured)


def test_no_channel_is_a_null_receiver_everywhere(tmp_path):
    cfg = render(Endpoints(), templates_dir=tmp_path)
    assert all(set(r) == {"name"} for r in cfg["receivers"]), cfg["receivers"]
    assert [r["receiver"] for r in cfg["route"]["routes"]] == ["slack-business", "oncall-critical", "slack-alerts"]


def secrets(tmp: Path, **files: str) -> Path:
    d = tmp / "secrets"
    d.mkdir(exist_ok=True)
    for name in ("slack-webhook-url", "smtp-password", "pagerduty-routing-key", "opsgenie-api-key"):
        (d / name).write_text(files.get(name.replace("-", "_"), ""))  # compose mounts every file, empty or not
    return d


@pytest.mark.parametrize(
    ("env", "files", "channels"),
    [
        ({}, {}, []),
        ({}, {"slack_webhook_url": "https://hooks.slack.test/x\n"}, ["slack"]),
        ({}, {"slack_webhook_url": "\n"}, []),  # whitespace only: off
        ({"ALERT_SMTP_SMARTHOST": "smtp.site.test:587", "ALERT_EMAIL_TO": "oncall@site.test"}, {}, ["email"]),
        ({"ALERT_SMTP_SMARTHOST": "smtp.site.test:587"}, {"smtp_password": "pw"}, []),  # nobody to mail
        ({"ALERT_EMAIL_TO": "oncall@site.test"}, {}, []),  # no server
        ({}, {"pagerduty_routing_key": "R0123"}, ["pagerduty"]),
        ({}, {"opsgenie_api_key": "k-0123"}, ["opsgenie"]),
        (
            {"ALERT_SMTP_SMARTHOST": "s:25", "ALERT_EMAIL_TO": "a@b.test"},
            {"slack_webhook_url": "u", "pagerduty_routing_key": "r", "opsgenie_api_key": "k"},
            ["slack", "email", "pagerduty", "opsgenie"],
        ),
    ],
    ids=[
        "none",
        "slack",
        "slack-blank",
        "email",
        "email-no-recipient",
        "email-no-server",
        "pagerduty",
        "opsgenie",
        "all",
    ],
)
def test_compose_channels_follow_the_secret_files_and_variables(tmp_path, env, files, channels):
    e = from_environment(env, secrets(tmp_path, **files))
    assert e.channels() == channels


def test_compose_render_job_writes_a_valid_config_that_names_files_only(tmp_path):
    """The alertmanager-config service's own command, run here with its container paths remapped."""
    import json
    import os
    import sys

    from tests.config.test_compose import env_file_for, run_compose

    env_path = env_file_for(tmp_path / ".env")
    r = run_compose(env_path, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    svc = json.loads(r.stdout)["services"]["alertmanager-config"]
    assert svc["entrypoint"] == ["python", "-m", "observatory.monitoring.amconfig"]
    mounts = {m["target"]: m["source"] for m in svc["volumes"] if m["type"] == "bind"}
    secret_dir = secrets(
        tmp_path, slack_webhook_url="https://hooks.slack.test/T/B/secretpart", pagerduty_routing_key="pd-secret-key"
    )
    remap = {
        "/etc/alertmanager/secrets": str(secret_dir),
        "/etc/alertmanager/templates": str(ALERTMANAGER_CONFIG.parent / "templates"),
        "/etc/alertmanager/rendered/alertmanager.yml": str(tmp_path / "out" / "alertmanager.yml"),
    }
    remap.update(mounts)
    args = [remap.get(a, a) for a in svc["command"]]
    env = {k: v for k, v in svc["environment"].items() if v is not None}
    env.update(ALERT_SMTP_SMARTHOST="smtp.site.test:587", ALERT_EMAIL_TO="oncall@site.test")
    run = subprocess.run(
        [sys.executable, "-m", "observatory.monitoring.amconfig", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stderr
    assert "channels: slack, email, pagerduty" in run.stderr
    out = tmp_path / "out" / "alertmanager.yml"
    text = out.read_text()
    assert "secretpart" not in text and "pd-secret-key" not in text and "secretpart" not in run.stderr
    check = _amtool("check-config", str(out))
    assert check.returncode == 0, check.stdout + check.stderr
    # the secrets the job inspects are the files Alertmanager reads
    am = json.loads(r.stdout)["services"]["alertmanager"]
    assert sorted(s["target"] for s in svc["secrets"]) == sorted(s["target"] for s in am["secrets"])
    cfg = load_yaml(out)
    assert cfg["global"]["slack_api_url_file"] == str(secret_dir / "slack-webhook-url")
