"""Prometheus and Alertmanager of the local stack (`make local`): their configurations.

Prometheus loads the repo's rule files themselves (alert-rules/*.rules.yml, the same files compose
mounts) and scrapes the all-in-one process, RabbitMQ, the Pushgateway and the blackbox exporter's
probes of the public endpoints on loopback; its config is derived from
config/prometheus/prometheus.yml. Alertmanager runs the repo's routing tree with the receivers the
user configured through the environment:

  OBS_SLACK_WEBHOOK_URL or OBS_SLACK_WEBHOOK_URL_FILE      Slack incoming webhook
  OBS_SMTP_SMARTHOST (host:port), OBS_ALERT_EMAIL_TO       email to on-call (both needed), plus
  OBS_SMTP_FROM, OBS_SMTP_USERNAME, OBS_SMTP_PASSWORD or OBS_SMTP_PASSWORD_FILE, OBS_SMTP_REQUIRE_TLS
  OBS_PAGERDUTY_ROUTING_KEY or OBS_PAGERDUTY_ROUTING_KEY_FILE   pages PagerDuty for critical alerts

A channel left unconfigured is removed from the receivers (harmless: nothing is sent, alerts stay
visible in the Alertmanager UI); the startup summary says which channels are live.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.prometheus import PrometheusServer
from observatory.monitoring import RULES_DIR, amconfig, promconfig

# the variables above belong to Alertmanager's receivers, not to the observatory process
CHANNEL_VARIABLE_PREFIXES = ("OBS_SLACK_", "OBS_SMTP_", "OBS_ALERT_", "OBS_PAGERDUTY_")


def _secret(base: Path, name: str, value_var: str, file_var: str, env: Mapping[str, str]) -> Path | None:
    """A secret as a file: the user's file, or the value written to a 0600 file under `base`."""
    if env.get(file_var):
        return Path(env[file_var]).expanduser().resolve()
    if env.get(value_var):
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(env[value_var].strip() + "\n")
        return path
    return None


def endpoints_from_env(secrets_dir: Path, env: Mapping[str, str] = os.environ) -> tuple[amconfig.Endpoints, list[str]]:
    """The receivers' endpoints from the environment, and one line per channel for the summary."""
    e = amconfig.Endpoints()
    notes = []
    e.slack_url_file = _secret(
        secrets_dir, "slack-webhook-url", "OBS_SLACK_WEBHOOK_URL", "OBS_SLACK_WEBHOOK_URL_FILE", env
    )
    notes.append(
        "Slack: #alerts-critical, #alerts, #alerts-business via the configured webhook"
        if e.slack_url_file
        else "Slack: not configured (set OBS_SLACK_WEBHOOK_URL or OBS_SLACK_WEBHOOK_URL_FILE)"
    )
    if env.get("OBS_SMTP_SMARTHOST") and env.get("OBS_ALERT_EMAIL_TO"):
        e.smtp_smarthost, e.email_to = env["OBS_SMTP_SMARTHOST"], env["OBS_ALERT_EMAIL_TO"]
        e.smtp_from = env.get("OBS_SMTP_FROM") or f"observatory-alerts@{e.smtp_smarthost.split(':')[0]}"
        e.smtp_auth_username = env.get("OBS_SMTP_USERNAME") or None
        e.smtp_auth_password_file = _secret(
            secrets_dir, "smtp-password", "OBS_SMTP_PASSWORD", "OBS_SMTP_PASSWORD_FILE", env
        )
        e.smtp_require_tls = env.get("OBS_SMTP_REQUIRE_TLS", "true").lower() not in ("0", "false", "no")
        notes.append(f"email: critical alerts to {e.email_to} via {e.smtp_smarthost}")
    else:
        notes.append("email: not configured (set OBS_SMTP_SMARTHOST and OBS_ALERT_EMAIL_TO)")
    e.pagerduty_key_file = _secret(
        secrets_dir, "pagerduty-routing-key", "OBS_PAGERDUTY_ROUTING_KEY", "OBS_PAGERDUTY_ROUTING_KEY_FILE", env
    )
    if e.pagerduty_key_file:
        notes.append("PagerDuty: critical alerts page")
    if not (e.slack_url_file or e.smtp_smarthost or e.pagerduty_key_file):
        notes.append("no channel configured: alerts are only visible in the Alertmanager UI")
    return e, notes


def alertmanager(local: Path, port: int, env: Mapping[str, str] = os.environ) -> tuple[AlertmanagerServer, list[str]]:
    base = local / "alertmanager"
    endpoints, notes = endpoints_from_env(base / "secrets", env)
    return AlertmanagerServer(base, amconfig.render(endpoints, amconfig.LOCAL_TIMING), port=port), notes


def probe_targets(ports: Mapping[str, int]) -> dict[str, str]:
    """The public endpoints the local blackbox exporter probes (synthetic uptime checks), by service."""
    return {"ingest": f"http://127.0.0.1:{ports['ingest']}/health/ready"}


def prometheus(local: Path, ports: Mapping[str, int]) -> PrometheusServer:
    """The local Prometheus: the repo's rule files, every local component scraped on loopback."""

    def at(name: str) -> list[str]:
        return [f"127.0.0.1:{ports[name]}"]

    rabbit = at("rabbitmq_prometheus")
    plan = promconfig.LoopbackPlan(
        targets={
            "all-in-one": at("private" if "private" in ports else "ingest"),  # where /metrics is served
            "rabbitmq": rabbit,
            "rabbitmq-queues": rabbit,
            "alertmanager": at("alertmanager"),
            "prometheus": at("prometheus"),
        },
        rule_files=[str(RULES_DIR / "*.rules.yml")],
        alertmanagers=at("alertmanager"),
        intervals=promconfig.LOCAL_INTERVALS,
        runbook_base_url=(
            f"http://127.0.0.1:{ports['private']}/runbooks" if "private" in ports else promconfig.LOCAL_RUNBOOK_BASE_URL
        ),
        extra_jobs=[
            promconfig.blackbox_job(at("blackbox")[0], probe_targets(ports)),
            promconfig.pushgateway_job(at("pushgateway")),
        ],
    )
    return PrometheusServer(local / "prometheus", promconfig.loopback_config(plan), port=ports["prometheus"])
