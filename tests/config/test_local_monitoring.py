"""The local stack's Prometheus and Alertmanager configs (observatory.localstack.alerting): derived from
the repo files, loading the repo's own rule files, receivers taken from the environment."""

from __future__ import annotations

import re
import subprocess

import yaml

from observatory.localstack import alerting
from observatory.localstack.exporters import BLACKBOX_CONFIG, BlackboxExporter
from observatory.monitoring import amconfig, promconfig
from observatory.monitoring.rules import rule_files
from tests.tools import require

TOOLS = [require("promtool"), require("amtool")]


PORTS = {
    "prometheus": 9090,
    "ingest": 8080,
    "private": 8081,
    "rabbitmq_prometheus": 15692,
    "alertmanager": 9093,
    "blackbox": 9115,
    "pushgateway": 9091,
}


def test_local_prometheus_loads_the_repo_rule_files_themselves(tmp_path):
    server = alerting.prometheus(tmp_path, PORTS)
    path = promconfig.write(server.config, tmp_path / "prometheus.yml")
    result = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checked = re.findall(r"SUCCESS: (\d+) rules found", result.stdout + result.stderr)
    assert len(checked) == len(rule_files()), result.stdout + result.stderr
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in server.config["scrape_configs"]}
    assert jobs == {
        "all-in-one": ["127.0.0.1:8081"],
        "rabbitmq": ["127.0.0.1:15692"],
        "rabbitmq-queues": ["127.0.0.1:15692"],
        "alertmanager": ["127.0.0.1:9093"],
        "prometheus": ["127.0.0.1:9090"],
        "pushgateway": ["127.0.0.1:9091"],
        "blackbox": ["http://127.0.0.1:8080/health/ready"],
    }


def test_local_prometheus_probes_through_the_blackbox_exporter_and_honors_pushed_labels(tmp_path):
    jobs = {j["job_name"]: j for j in alerting.prometheus(tmp_path, PORTS).config["scrape_configs"]}
    assert jobs["pushgateway"].get("honor_labels") is True
    assert not jobs["all-in-one"].get("honor_labels")
    probe = jobs["blackbox"]
    assert probe["metrics_path"] == "/probe" and probe["params"] == {"module": ["http_2xx"]}
    relabel = probe["relabel_configs"]
    assert {"source_labels": ["__address__"], "target_label": "__param_target"} in relabel
    assert {"target_label": "__address__", "replacement": "127.0.0.1:9115"} in relabel
    # the `service` label is what EndpointDown (critical for ingest) selects on
    assert probe["static_configs"] == [
        {"targets": ["http://127.0.0.1:8080/health/ready"], "labels": {"service": "ingest"}}
    ]


def test_local_blackbox_exporter_loads_the_repo_modules(tmp_path):
    exporter = BlackboxExporter(tmp_path / "blackbox", port=9115)
    exporter.write_config()
    assert yaml.safe_load(exporter.config_path.read_text()) == yaml.safe_load(BLACKBOX_CONFIG.read_text())
    check = subprocess.run([*exporter.command(), "--config.check"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_without_configuration_no_channel_is_rendered(tmp_path):
    server, notes = alerting.alertmanager(tmp_path, 9093, env={})
    receivers = server.config["receivers"]
    assert all(set(r) == {"name"} for r in receivers), receivers
    assert server.config["route"] == {  # config/alertmanager/alertmanager.yml's route, local timing
        "receiver": "slack-alerts",
        "group_by": ["alertname", "service"],
        "group_wait": "5s",
        "group_interval": "1m",
        "repeat_interval": "4h",
        "routes": [
            {"receiver": "slack-business", "matchers": ['team="business"']},
            {"receiver": "oncall-critical", "matchers": ['severity="critical"'], "repeat_interval": "30m"},
            {"receiver": "slack-alerts", "matchers": ['severity=~"warning|info"'], "repeat_interval": "4h"},
        ],
    }
    assert any("only visible in the Alertmanager UI" in n for n in notes)
    assert not (tmp_path / "alertmanager" / "secrets").exists()


def test_configured_channels_are_rendered_with_secrets_in_private_files(tmp_path):
    env = {
        "OBS_SLACK_WEBHOOK_URL": "https://hooks.example.test/T/B/x",
        "OBS_SMTP_SMARTHOST": "mail.test:587",
        "OBS_ALERT_EMAIL_TO": "oncall@site.test",
        "OBS_SMTP_USERNAME": "alerts",
        "OBS_SMTP_PASSWORD": "pw-123",
        "OBS_PAGERDUTY_ROUTING_KEY": "pd-key",
    }
    server, notes = alerting.alertmanager(tmp_path, 9093, env=env)
    cfg, secrets = server.config, tmp_path / "alertmanager" / "secrets"
    g = cfg["global"]
    assert g["slack_api_url_file"] == str(secrets / "slack-webhook-url")
    assert (secrets / "slack-webhook-url").read_text().strip() == env["OBS_SLACK_WEBHOOK_URL"]
    assert (secrets / "slack-webhook-url").stat().st_mode & 0o077 == 0
    assert g["smtp_smarthost"] == "mail.test:587" and g["smtp_auth_username"] == "alerts"
    assert (secrets / "smtp-password").read_text().strip() == "pw-123"
    (email,) = next(r for r in cfg["receivers"] if r["name"] == "oncall-critical")["email_configs"]
    assert email["to"] == "oncall@site.test"
    assert cfg["route"]["routes"][1] == amconfig.PAGERDUTY_ROUTE
    assert "pw-123" not in str(cfg) and env["OBS_SLACK_WEBHOOK_URL"] not in str(cfg)
    assert any(n.startswith("Slack:") and "configured webhook" in n for n in notes)

    path = amconfig.write(cfg, tmp_path / "alertmanager.yml")
    result = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    routed = subprocess.run(
        [
            "amtool",
            "config",
            "routes",
            "test",
            f"--config.file={path}",
            "--verify.receivers=pagerduty,oncall-critical",
            "severity=critical",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
