"""Prometheus and Alertmanager of the local stack (`make local`).

Prometheus loads the repo's rule files themselves (alert-rules/*.rules.yml, the same files compose
mounts) and scrapes the all-in-one process and RabbitMQ on loopback; its config is derived from
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
    e.slack_url_file = _secret(secrets_dir, "slack-webhook-url", "OBS_SLACK_WEBHOOK_URL",
                               "OBS_SLACK_WEBHOOK_URL_FILE", env)
    notes.append("Slack: #alerts-critical, #alerts, #alerts-business via the configured webhook" if e.slack_url_file
                 else "Slack: not configured (set OBS_SLACK_WEBHOOK_URL or OBS_SLACK_WEBHOOK_URL_FILE)")
    if env.get("OBS_SMTP_SMARTHOST") and env.get("OBS_ALERT_EMAIL_TO"):
        e.smtp_smarthost, e.email_to = env["OBS_SMTP_SMARTHOST"], env["OBS_ALERT_EMAIL_TO"]
        e.smtp_from = env.get("OBS_SMTP_FROM") or f"observatory-alerts@{e.smtp_smarthost.split(':')[0]}"
        e.smtp_auth_username = env.get("OBS_SMTP_USERNAME") or None
        e.smtp_auth_password_file = _secret(secrets_dir, "smtp-password", "OBS_SMTP_PASSWORD",
                                            "OBS_SMTP_PASSWORD_FILE", env)
        e.smtp_require_tls = env.get("OBS_SMTP_REQUIRE_TLS", "true").lower() not in ("0", "false", "no")
        notes.append(f"email: critical alerts to {e.email_to} via {e.smtp_smarthost}")
    else:
        notes.append("email: not configured (set OBS_SMTP_SMARTHOST and OBS_ALERT_EMAIL_TO)")
    e.pagerduty_key_file = _secret(secrets_dir, "pagerduty-routing-key", "OBS_PAGERDUTY_ROUTING_KEY",
                                   "OBS_PAGERDUTY_ROUTING_KEY_FILE", env)
    if e.pagerduty_key_file:
        notes.append("PagerDuty: critical alerts page")
    if not (e.slack_url_file or e.smtp_smarthost or e.pagerduty_key_file):
        notes.append("no channel configured: alerts are only visible in the Alertmanager UI")
    return e, notes


def alertmanager(local: Path, port: int, env: Mapping[str, str] = os.environ) -> tuple[AlertmanagerServer, list[str]]:
    base = local / "alertmanager"
    endpoints, notes = endpoints_from_env(base / "secrets", env)
    return AlertmanagerServer(base, amconfig.render(endpoints, amconfig.LOCAL_TIMING), port=port), notes


def prometheus(local: Path, port: int, ingest_port: int, rabbit_port: int, am_port: int) -> PrometheusServer:
    rabbit = f"127.0.0.1:{rabbit_port}"
    plan = promconfig.LoopbackPlan(
        targets={"all-in-one": [f"127.0.0.1:{ingest_port}"], "rabbitmq": [rabbit], "rabbitmq-queues": [rabbit],
                 "alertmanager": [f"127.0.0.1:{am_port}"], "prometheus": [f"127.0.0.1:{port}"]},
        rule_files=[str(RULES_DIR / "*.rules.yml")],
        alertmanagers=[f"127.0.0.1:{am_port}"],
        intervals=promconfig.LOCAL_INTERVALS)
    return PrometheusServer(local / "prometheus", promconfig.loopback_config(plan), port=port)


def _running(state: dict, name: str) -> bool:
    from observatory.localstack.proc import pid_alive
    pid = state.get(name, {}).get("pid")
    return bool(pid and pid_alive(pid))


def up(local: Path, ports: Mapping[str, int], state: dict, save) -> list[str]:
    """Start Alertmanager, then Prometheus, unless already running (pids go into `state`, then `save()`).
    Returns the summary lines about alert delivery. Raises RuntimeError when a port is taken."""
    from observatory.localstack.proc import port_open
    am, notes = alertmanager(local, ports["alertmanager"])
    prom = prometheus(local, ports["prometheus"], ports.get("private", ports["ingest"]), ports["rabbitmq_prometheus"],
                      ports["alertmanager"])
    for name, server, var in (("alertmanager", am, "OBS_LOCAL_ALERTMANAGER_PORT"),
                              ("prometheus", prom, "OBS_LOCAL_PROMETHEUS_PORT")):
        if _running(state, name):
            print(f"{name} already running (pid {state[name]['pid']}); `make local-down` first to apply new settings")
            continue
        if port_open(server.port):
            raise RuntimeError(f"port {server.port} ({name}) is taken by another program; set {var} to a free one")
        print(f"starting {name} on 127.0.0.1:{server.port} ...", flush=True)
        server.start(timeout_s=60, detach=True)
        state[name] = {"pid": server.pid, "base": str(server.base)}
        save()
    return notes


def down(state: dict) -> list[str]:
    from observatory.localstack.proc import stop_pid
    lines = []
    for name in ("prometheus", "alertmanager"):
        if name in state:
            lines.append(f"stopped {name}" if stop_pid(state[name]["pid"], 20) else f"{name} was not running")
    return lines
