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
# links in alert messages (Prometheus external labels)
LINK_VARIABLES = ("OBS_GRAFANA_URL", "OBS_CONSOLE_URL")
SETTINGS_FILE = "settings.env"


def _remembered(name: str) -> bool:
    return name.startswith(CHANNEL_VARIABLE_PREFIXES) or name in LINK_VARIABLES


def _read_settings(path: Path) -> dict[str, str]:
    out = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#") and _remembered(key.strip()):
                out[key.strip()] = value
    return out


def remember(local: Path, env: Mapping[str, str] = os.environ) -> tuple[dict[str, str], list[str]]:
    """The alert channels and links of the local stack, kept across runs in `<local>/settings.env`
    (mode 0600): what the file holds, overridden by the same variables set in `env` (an empty value
    too: it switches a channel off), written back when that changed anything. Returns `env` with
    them applied, and a summary line."""
    path = local / SETTINGS_FILE
    saved = _read_settings(path)
    given = {k: v for k, v in env.items() if _remembered(k)}
    merged = {**saved, **given}
    if merged != saved or not path.exists():
        local.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(
            "# alert channels and links of this local stack, remembered by `make local` (docs/alerting.md);\n"
            "# edit a line, or run make local with the variable set, to change it; an empty value turns it off\n"
            + "".join(f"{k}={v}\n" for k, v in sorted(merged.items()))
        )
    note = f"alert settings: {path} ({len([v for v in merged.values() if v])} set; edit it to change them)"
    return {**env, **merged}, [note]


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


def prometheus(local: Path, ports: Mapping[str, int], env: Mapping[str, str] = os.environ) -> PrometheusServer:
    """The local Prometheus: the repo's rule files, every local component scraped on loopback. Alert
    messages link the console (OBS_CONSOLE_URL, default this stack's) and Grafana when OBS_GRAFANA_URL
    names one (the local stack has none)."""

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
        grafana_url=env.get("OBS_GRAFANA_URL", ""),
        console_url=env.get("OBS_CONSOLE_URL")
        or (f"http://127.0.0.1:{ports['private']}/console/" if "private" in ports else ""),
        extra_jobs=[
            promconfig.blackbox_job(at("blackbox")[0], probe_targets(ports)),
            promconfig.pushgateway_job(at("pushgateway")),
        ],
    )
    return PrometheusServer(local / "prometheus", promconfig.loopback_config(plan), port=ports["prometheus"])
