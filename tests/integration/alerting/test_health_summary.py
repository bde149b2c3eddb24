"""GET /v1/health/summary over real parts: the process's own metrics registry (ingest and consumer
metrics as all-in-one has them, set to known values), a chDB store with events of known latency, and
a real Alertmanager (the repo's routing) holding posted alerts; then without Alertmanager, and with
one that does not answer."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta

from observatory.localstack.proc import wait_for
from observatory.metrics import E2E_BUCKETS, ConsumerMetrics, IngestMetrics, new_registry
from observatory.process import free_port
from observatory.settings import StoreSettings
from tests.conftest import unique
from tests.integration.alerting.test_routing_live import RUNBOOKS, alert, states
from tests.integration.conftest import open_forecaster
from tests.integration.shopdata import load


@contextlib.asynccontextmanager
async def forecaster(chdb, store, registry=None, **settings):
    async with open_forecaster(chdb, store, lambda: datetime.now(UTC), registry=registry, **settings) as (_app, http):
        yield http


def _events(n: int, late_s: float) -> list[dict]:
    """n events received `late_s` seconds before now (the sink stamps inserted_at at insert)."""
    received = datetime.now(UTC) - timedelta(seconds=late_s)
    return [
        {
            "event_id": str(uuid.uuid4()),
            "event_name": "add_to_cart",
            "user_id": f"u-{i}",
            "timestamp": received.isoformat(),
            "received_at": received.isoformat(),
            "properties": {"product_id": "p-1", "price": 1.0, "quantity": 1},
        }
        for i in range(n)
    ]


async def test_summary_from_metrics_store_and_alertmanager(chdb, routing):
    am, _slack, _smtp = routing
    store = StoreSettings(dsn=chdb.dsn, database=unique("health"))
    client = chdb.client()
    load(client, store, _events(8, 100) + _events(2, 1000), dup_ratio=0)
    client.close()
    registry = new_registry("all-in-one", "test")
    ingest, consumer = IngestMetrics.create(registry), ConsumerMetrics.create(registry)
    ingest.events_accepted.labels("web").inc(30)
    ingest.events_accepted.labels("app").inc(12)
    for code, n in (("202", 5), ("400", 2), ("401", 1), ("503", 3)):
        ingest.http_requests.labels("/v1/events", "POST", code).inc(n)
    consumer.queue_messages.labels(queue="events").set(17)
    consumer.queue_consumers.labels(queue="events").set(2)
    consumer.rows_inserted.inc(40)
    for latency in [0.2] * 9 + [4.0]:
        consumer.e2e_latency.observe(latency)
    am.post_alerts(
        [
            alert("PaymentFailureRateSpike", "critical", "forecaster", team="business"),
            alert("ConsumerLagHigh", "warning", "consumer"),
        ]
    )
    wait_for("both alerts active", lambda: sorted(states(am).values()) == ["active", "active"], 30)

    async with forecaster(chdb, store, registry, alertmanager_url=am.url) as http:
        first = (await http.get("/v1/health/summary")).json()
        ingest.events_accepted.labels("web").inc(10)
        second = (await http.get("/v1/health/summary")).json()

    i = first["ingest"]
    assert (i["accepted_total"], i["rejected_total"], i["http_requests_total"]) == (42, 0, 11)
    assert (i["http_4xx_total"], i["http_5xx_total"]) == (3, 3)
    assert second["ingest"]["accepted_total"] == 52 and second["ingest"]["accepted_per_s"] > 0
    assert first["queue"] == {"name": "events", "depth": 17, "consumers": 2, "max_length": None}
    c = first["consumer"]
    assert c["rows_inserted_total"] == 40 and c["lag_messages"] == 17
    assert c["accepted_to_queryable_p50_s"] == min(b for b in E2E_BUCKETS if b >= 0.2)
    assert c["accepted_to_queryable_p95_s"] == min(b for b in E2E_BUCKETS if b >= 4.0)
    s = first["store"]
    assert s["reachable"] and s["rows_inserted_last_hour"] == 10 and s["inserted_per_s_5m"] == 10 / 300
    assert 100 <= s["accepted_to_queryable_p50_s"] < 1000 <= s["accepted_to_queryable_p95_s"]
    alerts = first["alerts"]
    assert alerts["configured"] and alerts["error"] is None and alerts["source"] == am.url
    assert [(a["name"], a["severity"], a["runbook_url"]) for a in alerts["firing"]] == [
        ("PaymentFailureRateSpike", "critical", f"{RUNBOOKS}PaymentFailureRateSpike.md"),
        ("ConsumerLagHigh", "warning", f"{RUNBOOKS}ConsumerLagHigh.md"),
    ]
    assert first["missing"] == {}


async def test_summary_without_ingest_or_alertmanager(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("health"))
    client = chdb.client()
    load(client, store, [], dup_ratio=0)
    client.close()
    async with forecaster(chdb, store) as http:
        plain = (await http.get("/v1/health/summary")).json()
    async with forecaster(chdb, store, alertmanager_url=f"http://127.0.0.1:{free_port()}") as http:
        down = await http.get("/v1/health/summary")
    assert plain["ingest"] is None and plain["queue"] is None and plain["consumer"] is None
    assert set(plain["missing"]) == {"ingest", "consumer", "queue"}
    assert plain["store"]["reachable"] and plain["store"]["rows_inserted_last_hour"] == 0
    assert plain["store"]["accepted_to_queryable_p50_s"] is None
    assert plain["alerts"] == {"configured": False, "source": None, "error": None, "firing": []}
    assert down.status_code == 200
    assert down.json()["alerts"]["configured"] and "did not answer" in down.json()["alerts"]["error"]
