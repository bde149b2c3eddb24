"""Live: the compose stack's `blackbox` and `pushgateway` scrape jobs (config/prometheus/prometheus.yml,
kept as they are: probe module, relabelling, honor_labels; only addresses moved to loopback) in a real
Prometheus, with Debian's blackbox exporter loading config/blackbox/blackbox.yml and a real
Pushgateway, and the repo's blackbox rules (`for:` divided by 60).

Endpoints probed: one that answers 200, one that answers after 2.3 s, one port where nothing listens."""

from __future__ import annotations

import copy
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from observatory.localstack.proc import ManagedProcess, free_port, wait_for
from observatory.localstack.prometheus import PrometheusServer
from observatory.monitoring import RULES_DIR, promconfig, rules
from tests.tools import require

REPO = Path(__file__).resolve().parents[3]
require("prometheus")
BLACKBOX = shutil.which("prometheus-blackbox-exporter")
PUSHGATEWAY = shutil.which("prometheus-pushgateway")
if not (BLACKBOX and PUSHGATEWAY):
    raise RuntimeError(
        "prometheus-blackbox-exporter / prometheus-pushgateway not found: "
        "apt-get install -y prometheus-blackbox-exporter prometheus-pushgateway"
    )


@dataclass
class Exporter(ManagedProcess):
    base: Path
    args: list[str]
    binary: str
    ready_path: str = "/-/healthy"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    pid: int | None = None

    def command(self) -> list[str]:
        return [self.binary, f"--web.listen-address=127.0.0.1:{self.port}", *self.args]

    def write_config(self) -> None:
        pass

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class Endpoint:
    """A loopback HTTP endpoint answering 200 after `delay_s`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.port = free_port()
        delay = delay_s

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"ok"}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    base = tmp_path_factory.mktemp("bb")
    fast, slow = Endpoint(), Endpoint(delay_s=2.3)
    closed = free_port()
    urls = {
        "ingest": f"http://127.0.0.1:{fast.port}/health/ready",
        "grafana": f"http://127.0.0.1:{slow.port}/api/health",
        "kibana": f"http://127.0.0.1:{closed}/login",
    }
    bb = Exporter(base / "blackbox", [f"--config.file={REPO / 'config/blackbox/blackbox.yml'}"], BLACKBOX)
    pg = Exporter(base / "pushgateway", [], PUSHGATEWAY, ready_path="/-/ready")
    compose = promconfig.compose_config()
    jobs = {j["job_name"]: copy.deepcopy(j) for j in compose["scrape_configs"]}
    blackbox = jobs["blackbox"]
    blackbox["static_configs"] = [
        {"targets": [urls[sc["labels"]["service"]]], "labels": sc["labels"]}
        for sc in blackbox["static_configs"]
        if sc["labels"]["service"] in urls
    ]
    (address,) = [r for r in blackbox["relabel_configs"] if r.get("target_label") == "__address__"]
    address["replacement"] = f"127.0.0.1:{bb.port}"
    pushgateway = jobs["pushgateway"]
    pushgateway["static_configs"] = [{"targets": [f"127.0.0.1:{pg.port}"]}]
    copies = rules.shortened_copy(base / "rules", factor=60, files=[RULES_DIR / "blackbox.rules.yml"])
    cfg = {
        "global": {
            "scrape_interval": "4s",
            "scrape_timeout": "4s",
            "evaluation_interval": "1s",
            "external_labels": {"runbook_base_url": "https://runbooks.example.test"},
        },
        "rule_files": [str(p) for p in copies],
        "scrape_configs": [blackbox, pushgateway],
    }
    prom = PrometheusServer(base / "prometheus", cfg)
    started = []
    try:
        for server in (bb, pg, prom):
            server.start(60)
            started.append(server)
        yield prom, pg, urls
    finally:
        for server in reversed(started):
            server.stop()
        fast.stop()
        slow.stop()


def value(prom, expr: str) -> dict[str, float]:
    return {r["metric"].get("service", r["metric"].get("job", "")): float(r["value"][1]) for r in prom.query(expr)}


def test_every_public_endpoint_is_probed_through_the_exporter(rig):
    prom, _pg, urls = rig
    wait_for(
        "a probe result for every endpoint", lambda: set(value(prom, 'probe_success{job="blackbox"}')) == set(urls), 60
    )
    success = value(prom, 'probe_success{job="blackbox"}')
    assert success == {"ingest": 1.0, "grafana": 1.0, "kibana": 0.0}
    instances = {r["metric"]["service"]: r["metric"]["instance"] for r in prom.query('probe_success{job="blackbox"}')}
    assert instances == urls, "instance must be the probed URL, not the exporter"
    assert value(prom, 'probe_duration_seconds{job="blackbox"}')["grafana"] >= 2.3


def test_endpoint_down_and_slow_probe_fire_with_the_service_label(rig):
    prom, _pg, _urls = rig

    def firing() -> dict[str, set]:
        out: dict[str, set] = {}
        for a in prom.alerts():
            if a["state"] == "firing":
                out.setdefault(a["labels"]["alertname"], set()).add((a["labels"]["service"], a["labels"]["severity"]))
        return out

    wait_for(
        "EndpointDown for kibana and SlowProbe for grafana",
        lambda: (
            firing().get("EndpointDown") == {("kibana", "warning")}
            and firing().get("SlowProbe") == {("grafana", "warning")}
        ),
        90,
    )
    assert ("ingest", "critical") not in firing().get("EndpointDown", set())
    down = next(a for a in prom.alerts() if a["labels"]["alertname"] == "EndpointDown")
    assert down["annotations"]["runbook_url"] == "https://runbooks.example.test/EndpointDown.md"


def test_pushed_metrics_keep_their_own_job_and_instance_labels(rig):
    prom, pg, _urls = rig
    r = httpx.put(
        f"{pg.url}/metrics/job/nightly_backup/instance/batch-host",
        content=b"# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds 1.7e9\n",
        timeout=10,
    )
    assert r.status_code == 200, r.text
    wait_for("the pushed metric in Prometheus", lambda: prom.query("backup_last_success_timestamp_seconds"), 60)
    (series,) = prom.query("backup_last_success_timestamp_seconds")
    labels = series["metric"]
    assert labels["job"] == "nightly_backup" and labels["instance"] == "batch-host", labels
    assert "exported_job" not in labels
