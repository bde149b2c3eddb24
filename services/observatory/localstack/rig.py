"""The alerting rig: real ingest and consumer processes on a RabbitMQ node, a Prometheus loading the
repo's rules (shortened `for:`, see rules.shortened_copy) and scraping them, and an Alertmanager with
the repo's routing tree whose receivers point at a local Slack recorder and SMTP sink.

Used by the live alerting tests and by the alerting benchmark, so both measure the same thing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.proc import free_port
from observatory.localstack.prometheus import PrometheusServer
from observatory.localstack.services import ServiceProcess
from observatory.monitoring import amconfig, promconfig, rules
from observatory.monitoring.sinks import SlackRecorder, SmtpSink
from observatory.settings import hash_key

GRAFANA_URL = "http://grafana.rig.test:3000"  # the dashboard links' base in the rig's alert messages

ONCALL = "oncall@observatory.test"


@dataclass
class AlertingRig:
    base: Path
    amqp_url: str
    rabbit_prometheus_port: int
    slack: SlackRecorder
    smtp: SmtpSink | None = None
    for_factor: float = 60.0  # `for:` divided by this in the rig's rule copy
    intervals: promconfig.Intervals = field(default_factory=lambda: promconfig.FAST_INTERVALS)
    timing: amconfig.Timing = field(default_factory=lambda: amconfig.FAST_TIMING)
    api_key: str = field(default_factory=lambda: "obs_rig_" + secrets.token_urlsafe(16))
    queue: str = field(default_factory=lambda: "alerting_" + secrets.token_hex(4))

    def __post_init__(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.ingest_port, consumer_port, self.prometheus_port = free_port(), free_port(), free_port()
        self.ingest = ServiceProcess("ingest", self.ingest_port, self._env(), self.base / "logs" / "ingest.log")
        # ServiceProcess sets each one's listener ports (the private one, scraped, on a port of its own)
        self.consumer = ServiceProcess("consumer", consumer_port, self._env(), self.base / "logs" / "consumer.log")
        self.alertmanager = AlertmanagerServer(self.base / "alertmanager", self._am_config())
        self.prometheus = PrometheusServer(self.base / "prometheus", {}, port=self.prometheus_port)

    # -- configuration ---------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        q = self.queue
        return {
            "OBS_ENV": "test",
            "OBS_LOG_LEVEL": "WARNING",
            "OBS_ACCESS_LOG": "false",
            "OBS_AMQP_URL": self.amqp_url,
            "OBS_AMQP_EXCHANGE": q,
            "OBS_AMQP_QUEUE": q,
            "OBS_AMQP_DEAD_LETTER_EXCHANGE": f"{q}.dlx",
            "OBS_AMQP_DEAD_LETTER_QUEUE": f"{q}.dead",
            "OBS_INGEST_HOST": "127.0.0.1",
            "OBS_INGEST_PORT": str(self.ingest_port),
            "OBS_INGEST_API_KEYS": f"rig:sha256:{hash_key(self.api_key)}",
            "OBS_CLICKHOUSE_DSN": f"chdb://{(self.base / 'chdb').resolve()}",
            "OBS_CLICKHOUSE_DATABASE": "observatory",
            "OBS_CONSUMER_FLUSH_MS": "100",
            "OBS_CONSUMER_QUEUE_POLL_S": "1",
        }

    def _am_config(self) -> dict:
        url_file = self.base / "secrets" / "slack-webhook-url"
        url_file.parent.mkdir(parents=True, exist_ok=True)
        url_file.write_text(self.slack.url)
        url_file.chmod(0o600)
        endpoints = amconfig.Endpoints(slack_url_file=url_file)
        if self.smtp is not None:
            endpoints.smtp_smarthost = self.smtp.smarthost
            endpoints.smtp_require_tls = False
            endpoints.email_to = ONCALL
        return amconfig.render(endpoints, self.timing)

    def _prom_config(self) -> dict:
        copies = rules.shortened_copy(self.base / "rules", factor=self.for_factor)
        rabbit = f"127.0.0.1:{self.rabbit_prometheus_port}"
        plan = promconfig.LoopbackPlan(
            targets={
                "ingest": [self.ingest.target],
                "consumer": [self.consumer.target],
                "rabbitmq": [rabbit],
                "rabbitmq-queues": [rabbit],
                "alertmanager": [f"127.0.0.1:{self.alertmanager.port}"],
                "prometheus": [f"127.0.0.1:{self.prometheus_port}"],
            },
            rule_files=[str(p) for p in copies],
            alertmanagers=[f"127.0.0.1:{self.alertmanager.port}"],
            intervals=self.intervals,
            runbook_base_url=f"{self.ingest.private_url}/runbooks",
            grafana_url=GRAFANA_URL,
            console_url=f"{self.ingest.private_url}/console/",
        )  # live links: the rig's own ingest serves them
        return promconfig.loopback_config(plan)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout_s: float = 90.0) -> AlertingRig:
        self.ingest.start(timeout_s)
        self.consumer.start(timeout_s)
        self.alertmanager.start(timeout_s)
        self.prometheus.config = self._prom_config()
        self.prometheus.start(timeout_s)
        self.prometheus.wait_targets_up("every scrape target of the rig up in Prometheus", timeout_s, self._processes())
        return self

    def _processes(self) -> dict:
        """The rig's processes behind its scrape targets (name and log -> running?)."""
        return {
            f"ingest (log: {self.ingest.log_path})": self.ingest.running,
            f"consumer (log: {self.consumer.log_path})": self.consumer.running,
            f"Alertmanager (log: {self.alertmanager.log_path})": self.alertmanager.running,
        }

    def stop(self) -> None:
        self.prometheus.stop()
        self.alertmanager.stop()
        self.consumer.stop()
        self.ingest.stop()

    # -- traffic -------------------------------------------------------------------------------------
    def post(self, body, timeout_s: float = 10.0) -> httpx.Response:
        return httpx.post(
            f"{self.ingest.url}/v1/events",
            json=body,
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )

    def up(self, job: str) -> float | None:
        result = self.prometheus.query(f'up{{job="{job}"}}')
        return float(result[0]["value"][1]) if result else None
