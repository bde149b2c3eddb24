"""Every Prometheus-backed Grafana panel runs its query against a live Prometheus that scrapes the
real services (the local stack's all-in-one process: ingest, consumer and forecaster over one
embedded ClickHouse, on the session's RabbitMQ node), the node's rabbitmq_prometheus endpoint, an
Alertmanager and itself, after 3 weeks of demo webshop history (so the forecaster fits its models),
a few rejected events and one poison message, and must return data.

Panels whose metrics only exist in the Docker stack (cAdvisor, the ClickHouse server) are listed in
NEEDS_DOCKER with the reason; the test fails if any other panel has no data, and also if a listed
panel is not there any more (so the list cannot rot). The host panels read Debian's
prometheus-node-exporter, which `make test` installs and the rig runs, so they must have data too."""

from __future__ import annotations

import subprocess
import sys
import time

import aio_pika
import httpx
import pytest

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.prometheus import PrometheusServer
from observatory.localstack.services import ServiceProcess
from observatory.monitoring import promconfig
from observatory.settings import hash_key
from tests.conftest import topology, unique
from tests.integration.conftest import broker_env
from tests.integration.dashboards.panels import expand_promql, queries
from tests.tools import require

NODE_EXPORTER = require("prometheus-node-exporter")  # the host panels must have data here too
CADVISOR = "cAdvisor metrics (per-container CPU, memory, I/O, network): the cadvisor container of the Docker stack"
CLICKHOUSE = "the ClickHouse server's own /metrics on :9363; the local stack embeds chDB, which has no such endpoint"

NEEDS_DOCKER = {
    "infrastructure.json / CPU per container": CADVISOR,
    "infrastructure.json / Memory per container (working set)": CADVISOR,
    "infrastructure.json / Memory vs. limit": CADVISOR,
    "infrastructure.json / Disk I/O per container": CADVISOR,
    "infrastructure.json / Network received per container": CADVISOR,
    "infrastructure.json / Network sent per container": CADVISOR,
    "stack-health.json / Queries/s and inserts/s": CLICKHOUSE,
    "stack-health.json / Server memory": CLICKHOUSE,
    "stack-health.json / Parts and merges": CLICKHOUSE,
}

PROM_QUERIES = queries("prometheus")
API_KEY = "obs_dash_" + "k3y5" * 4


class Rig:
    def __init__(self, base, rabbit) -> None:
        q = unique("dash")
        self.queue = q
        self.amqp_url = rabbit.url
        env = {
            "OBS_ENV": "test",
            "OBS_LOG_LEVEL": "WARNING",
            "OBS_ACCESS_LOG": "false",
            **broker_env(topology(rabbit.url, q)),
            "OBS_INGEST_API_KEYS": f"dash:sha256:{hash_key(API_KEY)}",
            # the all-in-one process owns a chDB folder of its own (this test process holds the session's)
            "OBS_CLICKHOUSE_DSN": f"chdb://{(base / 'chdb').resolve()}",
            "OBS_CLICKHOUSE_DATABASE": "observatory",
            "OBS_CONSUMER_FLUSH_MS": "100",
            "OBS_CONSUMER_QUEUE_POLL_S": "1",
        }
        port = free_port()
        # the forecaster refits quickly and retries as soon as the backfill has given it enough days
        fast_forecaster = {
            "OBS_FORECASTER_TICK_S": "0.5",
            "OBS_FORECASTER_RETRY_S": "1",
            "OBS_FORECASTER_EVALUATE_INTERVAL_S": "1",
            "OBS_FORECASTER_MIN_HISTORY_DAYS": "7",
            "OBS_FORECASTER_BACKTEST_HORIZON_DAYS": "3",
            "OBS_FORECASTER_UNCERTAINTY_SAMPLES": "50",
            "OBS_FORECASTER_MAX_PERIODS_DAY": "14",
            # refit every few seconds: a first fit can start while the backfill is still
            # arriving (gaps count as zero days), which leaves no MAPE until the next refit
            "OBS_FORECASTER_REFRESH": "revenue=5s,orders=5s,dau=5s,signups=5s,events=5s",
        }
        self.app = ServiceProcess(
            "all-in-one",
            port,
            {**env, **fast_forecaster, "OBS_INGEST_HOST": "127.0.0.1", "OBS_INGEST_PORT": str(port)},
            base / "logs" / "all-in-one.log",
        )
        self.alertmanager = AlertmanagerServer(
            base / "alertmanager", {"route": {"receiver": "nobody"}, "receivers": [{"name": "nobody"}]}
        )
        prom_port = free_port()
        rabbit_target = f"127.0.0.1:{rabbit.prometheus_port}"
        self.node_exporter_port = free_port()
        plan = promconfig.LoopbackPlan(
            targets={
                "all-in-one": [self.app.target],
                "rabbitmq": [rabbit_target],
                "rabbitmq-queues": [rabbit_target],
                "alertmanager": [f"127.0.0.1:{self.alertmanager.port}"],
                "prometheus": [f"127.0.0.1:{prom_port}"],
                "node-exporter": [f"127.0.0.1:{self.node_exporter_port}"],
            },
            alertmanagers=[f"127.0.0.1:{self.alertmanager.port}"],
            rule_files=[],
            intervals=promconfig.FAST_INTERVALS,
        )
        self.prometheus = PrometheusServer(base / "prometheus", promconfig.loopback_config(plan), port=prom_port)
        self.base = base

    def start(self) -> Rig:
        self.node_exporter = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{self.node_exporter_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        self.app.start(90)
        self.alertmanager.start(30)
        self.prometheus.start(30)
        self.prometheus.wait_targets_up("every scrape target up in the test Prometheus", 30)
        return self

    def stop(self) -> None:
        for part in (self.prometheus, self.alertmanager, self.app):
            part.stop()
        self.node_exporter.terminate()
        self.node_exporter.wait(timeout=10)

    def burst(self) -> None:
        """A few good events and one refused event (product_viewed needs its typed properties)."""
        auth = {"Authorization": f"Bearer {API_KEY}"}
        good = [{"event_name": "page_view", "user_id": f"u{i}", "properties": {"path": "/"}} for i in range(20)]
        assert httpx.post(f"{self.app.url}/v1/events", headers=auth, json=good, timeout=10).status_code == 202
        bad = httpx.post(
            f"{self.app.url}/v1/events",
            headers=auth,
            json=[{"event_name": "product_viewed", "user_id": "u1", "properties": {}}],
            timeout=10,
        )
        assert bad.status_code == 400, bad.text

    def traffic(self) -> None:
        """Demo webshop traffic through the CLI, some refused events, one poison message."""
        demo = subprocess.run(
            [
                sys.executable,
                "-m",
                "observatory.cli",
                "demo",
                "--days",
                "21",
                "--sessions-per-day",
                "40",
                "--rate",
                "25",
                "--duration",
                "6",
                "--url",
                self.app.url,
                "--api-key",
                API_KEY,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        self.burst()
        assert (
            httpx.post(
                f"{self.app.url}/v1/events",
                headers={"Authorization": "Bearer wrong"},
                json={"event_name": "x", "user_id": "u"},
                timeout=10,
            ).status_code
            == 401
        )
        # browser signals through the PostHog door: web vitals and exceptions (the Frontend dashboard)
        vitals = [
            {
                "event": "$web_vitals",
                "distinct_id": f"b{i}",
                "properties": {
                    "$current_url": f"http://shop.test/{'cart' if i % 2 else ''}",
                    "$web_vitals_LCP_value": 900 + 400 * i,
                    "$web_vitals_INP_value": 40 + 30 * i,
                    "$web_vitals_CLS_value": 0.02 * i,
                    "$web_vitals_FCP_value": 500 + 100 * i,
                    "$web_vitals_TTFB_value": 80 + 20 * i,
                },
            }
            for i in range(10)
        ]
        errors = [
            {
                "event": "$exception",
                "distinct_id": f"b{i}",
                "properties": {
                    "$exception_list": [{"type": "TypeError" if i % 3 else "ChunkLoadError", "value": "boom"}]
                },
            }
            for i in range(6)
        ]
        sdk = httpx.post(f"{self.app.url}/batch/", json={"api_key": API_KEY, "batch": vitals + errors}, timeout=10)
        assert sdk.status_code == 200, sdk.text
        import asyncio

        async def poison():
            conn = await aio_pika.connect(self.amqp_url)
            async with conn:
                ch = await conn.channel()
                ex = await ch.get_exchange(self.queue)
                await ex.publish(aio_pika.Message(b"this is not JSON"), routing_key="events")

        asyncio.run(poison())


@pytest.fixture(scope="module")
def rig(tmp_path_factory, rabbit):
    r = Rig(tmp_path_factory.mktemp("dashrig"), rabbit)
    try:
        r.start()
        r.traffic()
        # counters only grow, so these conditions stay true once met, however slow the machine is
        ready = (
            "consumer_rows_inserted_total > 0",
            "consumer_dead_lettered_total > 0",
            "ingest_events_rejected_total > 0",
            'forecaster_metric_expected{metric="revenue"}',
            'forecaster_backtest_mape{metric="revenue"}',
            "frontend_exceptions_total > 0",
            "frontend_web_vitals_lcp_seconds_count > 0",
        )  # the SDK door
        try:
            wait_for(
                "rows inserted, events rejected, a dead letter and the forecaster's models in Prometheus",
                lambda: all(r.prometheus.query(e) for e in ready),
                180,
                interval_s=0.5,
                log_hint=f"see {r.app.log_path}",
            )
        except TimeoutError as exc:
            missing = [e for e in ready if not r.prometheus.query(e)]
            raise TimeoutError(f"{exc} Still without data: {missing}") from None
        # the panels read rates over recent windows: a fresh burst after the (slow) model fits, so
        # those windows hold inserts and rejections whatever the fits took
        r.burst()
        wait_for(
            "the fresh burst inserted and rejected",
            lambda: all(
                r.prometheus.query(e)
                for e in (
                    "increase(consumer_rows_inserted_total[1m]) > 0",
                    "increase(ingest_events_rejected_total[1m]) > 0",
                )
            ),
            60,
            interval_s=0.5,
        )
        for _ in range(2):  # two more scrapes of every target after the last change
            since = time.time()
            wait_for("every target scraped again", lambda t=since: r.prometheus.scraped_since(t), 30)
        yield r
    finally:
        r.stop()


def test_exclusions_name_existing_panels():
    panels = {f"{q.dashboard} / {q.panel}" for q in PROM_QUERIES}
    stale = sorted(set(NEEDS_DOCKER) - panels)
    assert not stale, f"NEEDS_DOCKER lists panels that no longer exist: {stale}"


@pytest.mark.parametrize("query", PROM_QUERIES, ids=[q.key for q in PROM_QUERIES])
def test_prometheus_panel_has_data(rig, query):
    panel = f"{query.dashboard} / {query.panel}"
    expr = expand_promql(query.text)
    r = httpx.get(f"{rig.prometheus.url}/api/v1/query", params={"query": expr}, timeout=10)
    assert r.status_code == 200, f"{query.key}: Prometheus refused the query: {r.text}"
    result = r.json()["data"]["result"]
    if panel in NEEDS_DOCKER:
        assert not result, f"{panel} has data here: take it off NEEDS_DOCKER"
        pytest.skip(f"needs Docker stack: {NEEDS_DOCKER[panel]}")
    assert result, f"{query.key}: no data for {expr}; targets not up: {rig.prometheus.down_targets()}"
