"""all-in-one hosts the forecaster: its routes, its scheduler as a companion, and its own client on the
SAME chDB folder as the consumer, so events posted to ingest show up in the analytics API."""

from __future__ import annotations

import httpx

from observatory.cli.run import all_in_one_app
from observatory.poll import wait_for_async
from observatory.settings import hash_key
from tests.conftest import unique
from tests.integration.conftest import READ, READ_KEY, broker_env, read_keys_entry

KEY = "obs_all_in_one_test_key"


async def test_all_in_one_serves_forecaster_over_the_consumers_store(monkeypatch, broker_settings, chdb):
    db = unique("aio")
    env = {
        **broker_env(broker_settings),
        "OBS_CLICKHOUSE_DSN": chdb.dsn,
        "OBS_CLICKHOUSE_DATABASE": db,
        "OBS_INGEST_API_KEYS": f"test:sha256:{hash_key(KEY)}",
        "OBS_API_KEYS": read_keys_entry(),
        "OBS_CONSUMER_FLUSH_MS": "50",
        "OBS_FORECASTER_METRICS": "revenue,dau",
        "OBS_FORECASTER_TICK_S": "0.2",
        "OBS_FORECASTER_EVALUATE_INTERVAL_S": "0.5",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    app = all_in_one_app()
    async with app.lifespan():
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app.public), base_url="http://aio") as public,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app.private), base_url="http://aio-private", headers=READ
            ) as http,
        ):
            ready = await public.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["forecaster"] is True
            events = [
                {
                    "event_name": "purchase_completed",
                    "user_id": f"u{i}",
                    "properties": {
                        "order_id": f"o{i}",
                        "total_value": 10.25,
                        "payment_method": "card",
                        "items": [{"product_id": "p1", "quantity": 1, "price": 10.25}],
                    },
                }
                for i in range(3)
            ]
            r = await public.post("/v1/events", json=events, headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 202, r.text

            async def kpis():
                row = (await http.get("/v1/analytics/kpi_summary")).json()["rows"][0]
                assert (await public.get("/v1/analytics/kpi_summary")).status_code == 404, "not on the public door"
                return row if row["orders"] == 3 else None

            kpi = await wait_for_async("3 orders in the KPI summary", kpis, 15, 0.2, transient=())
            assert kpi["revenue"] == 30.75
            too_young = await http.get("/v1/forecast/revenue")
            assert too_young.status_code == 422 and too_young.json()["error"] == "insufficient_history"
            # the web console: on the private door, its session cookie reads the API; not on the public door
            assert (await public.get("/console/")).status_code == 404
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app.private), base_url="http://aio-private"
            ) as browser:
                csrf = (await browser.get("/console/")).cookies["obs_console_csrf"]
                signed_in = await browser.post(
                    "/console/session",
                    data={"csrf": csrf, "key": READ_KEY},
                    headers={"Origin": "http://aio-private"},
                )
                assert signed_in.status_code == 303, signed_in.text
                assert (await browser.get("/v1/analytics/kpi_summary")).json()["rows"][0]["orders"] == 3
                assert "Web analytics" in (await browser.get("/console/web")).text
            gauge = 'forecaster_metric_actual{metric="revenue"} 30.75'

            async def gauges():  # the scheduler companion runs: gauges appear
                text = (await http.get("/metrics")).text
                return text if gauge in text else None

            metrics = await wait_for_async("the forecaster scheduler's gauges", gauges, 10, 0.2, transient=())
    assert "ingest_events_accepted_total" in metrics  # one registry for the whole process
