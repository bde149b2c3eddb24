"""Trust boundaries (issue 9): the public door takes writes only, the private listener's read API
needs read keys (admin for reports), fits are bounded without slowing ingest, and the ingest edge
cases (a request over the burst, tokens given back after a 503, an unexpected publish error)."""

from __future__ import annotations

import asyncio
import logging

import aio_pika
import httpx

from observatory.consumer.app import build_consumer
from observatory.forecaster.app import build_forecaster
from observatory.metrics import new_registry
from observatory.settings import ConsumerSettings, ForecasterSettings
from tests.integration.conftest import (
    ADMIN,
    API_KEY,
    AUTH,
    READ,
    count_rows,
    host_consumer_and_forecaster,
    wait_until,
)
from tests.integration.forecaster.conftest import NOW, Clock

WRITE = {"Authorization": f"Bearer {API_KEY}"}
BODIES = {"/v1/query": {"sql": "SELECT count() FROM events FINAL"}}  # routes that need a request body


def read_paths(app) -> list[tuple[str, str, dict]]:
    """Every operation of the private app below /v1 (from its OpenAPI document, so a new route is
    covered by these tests), with path parameters filled and required query parameters set."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in operations.items():
            params = {
                p["name"]: "purchase_completed"
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            if path.startswith("/v1/backtest"):
                params = {"horizon": "7", "folds": "1"}
            filled = path.replace("{metric}", "revenue").replace("{kind}", "daily")
            out.append((method.upper(), filled, params))
    return out


async def test_every_read_route_needs_a_read_key_and_is_absent_from_the_public_door(shop, make_forecaster):
    store, _ = shop
    async with make_forecaster(store) as (app, http):
        paths = read_paths(app.private)
        assert {p for _, p, _ in paths} >= {
            "/v1/forecast",
            "/v1/forecast/revenue",
            "/v1/backtest/revenue",
            "/v1/analytics",
            "/v1/analytics/kpi_summary",
            "/v1/reports/daily",
            "/v1/query",
        }
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.public), base_url="http://pub") as public:
            for method, path, params in paths:
                none = await http.request(method, path, params=params, headers={"Authorization": ""})
                assert none.status_code == 401, (path, none.text)
                assert none.headers["www-authenticate"] == "Bearer" and none.json()["error"] == "unauthorized"
                bad = await http.request(method, path, params=params, headers={"Authorization": "Bearer nope"})
                assert bad.status_code == 401, path
                write = await http.request(method, path, params=params, headers=WRITE)
                assert (write.status_code, write.json()["error"]) == (403, "forbidden"), (path, write.text)
                assert "write-only" in write.json()["message"]
                for key in (READ, WRITE, ADMIN, {}):
                    outside = await public.request(method, path, params=params, headers=key)
                    assert outside.status_code == 404, (path, outside.status_code)
                if path.startswith("/v1/reports"):
                    assert (await http.request(method, path, headers=READ)).status_code == 403, "reports need admin"
                    continue  # sent with the admin key in test_reports.py (a real SMTP sink)
                ok = await http.request(method, path, params=params, headers=READ, json=BODIES.get(path))
                assert ok.status_code == 200, (path, ok.text)
            for path in ("/metrics", "/docs", "/openapi.json"):
                assert (await public.get(path)).status_code == 404
                assert (await http.get(path)).status_code == 200
            assert (await public.get("/health/ready")).status_code == 200


async def _queue_depth(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    async with conn:
        channel = await conn.channel()
        return (await channel.declare_queue(queue, passive=True)).declaration_result.message_count


async def test_backtest_saturation_answers_503_while_ingest_and_consumer_keep_storing(
    shop, broker_settings, store_settings, chdb, ch
):
    """all-in-one's shape: ingest + consumer + the forecaster's routes in one process and loop."""
    history, _ = shop
    registry = new_registry("t", "0")
    consumer, client = build_consumer(
        broker_settings, ConsumerSettings(flush_ms=50, queue_poll_s=0.5), store_settings, registry
    )
    chdb.track(client)
    fc = build_forecaster(
        ForecasterSettings(fit_workers=1, fit_waiting=0, backtests_per_minute=600), history, registry, clock=Clock(NOW)
    )
    chdb.track(fc.client)
    app = host_consumer_and_forecaster(broker_settings, registry, consumer, fc)
    async with app.lifespan():
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app.public), base_url="http://i") as public,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app.private), base_url="http://p", headers=READ, timeout=300
            ) as private,
        ):
            first = asyncio.create_task(private.get("/v1/backtest/revenue", params={"horizon": "7", "folds": "3"}))
            await wait_until("the first backtest holds the fit worker", lambda: fc.service.pool.active == 1)
            refused, sent = [], 0
            while not first.done():
                r = await private.get("/v1/backtest/orders", params={"horizon": "7", "folds": "1"})
                if r.status_code == 200:
                    assert first.done(), "a second backtest ran while the only fit worker was busy"
                else:
                    refused.append(r)
                batch = [{"event_name": "page_view", "user_id": f"u{sent + i}"} for i in range(10)]
                ingest = await public.post("/v1/events", json=batch, headers=AUTH)
                assert ingest.status_code == 202, ingest.text
                sent += 10
                await asyncio.sleep(0.05)
            assert (await first).status_code == 200, (await first).text
            assert refused and all(r.status_code == 503 for r in refused), {r.status_code for r in refused}
            assert refused[0].json()["error"] == "busy" and int(refused[0].headers["retry-after"]) >= 1
            await wait_until(
                f"all {sent} events sent during the saturation stored",
                lambda: count_rows(ch, store_settings.database) == sent,
                60,
            )
    fc.close()


async def test_a_request_over_the_burst_is_413_not_429(make_pipeline):
    async with make_pipeline(consumer=False, rate_limit_events_per_s=1, rate_limit_burst=5) as p:
        r = await p.post([{"event_name": "x", "user_id": "u"}] * 6)
        assert (r.status_code, r.json()["error"]) == (413, "batch_over_burst"), r.text
        assert "retry-after" not in r.headers and "5" in r.json()["message"]
        assert (await p.post([{"event_name": "x", "user_id": "u"}] * 5)).status_code == 202, "the burst itself passes"


async def test_tokens_of_a_request_refused_with_503_are_given_back(make_pipeline, broker_settings):
    broker_settings.max_length = 1
    async with make_pipeline(consumer=False, rate_limit_events_per_s=0.001, rate_limit_burst=5) as p:
        assert (await p.post({"event_name": "x", "user_id": "first"})).status_code == 202
        full = await p.post([{"event_name": "x", "user_id": "u"}] * 4)
        assert full.status_code == 503, full.text
        conn = await aio_pika.connect(p.broker.url)
        async with conn:
            channel = await conn.channel()
            await (await channel.declare_queue(p.broker.queue, passive=True)).purge()
        retry = await p.post([{"event_name": "x", "user_id": "u"}] * 4)
        assert retry.status_code == 202, f"the retry was throttled: {retry.text}"
        assert (await p.post({"event_name": "x", "user_id": "u"})).status_code == 429, "the bucket is now empty"


async def test_an_unexpected_publish_error_is_a_logged_503(make_pipeline, caplog, broker_settings):
    async with make_pipeline(consumer=False) as p:
        publisher = p.app.state.events_endpoint.pipeline.publisher
        assert publisher is p.app.state.publisher

        async def broken(events):  # fault injection into the real pipeline: a bug below the publisher
            raise KeyError("delivery_tag")

        publisher.publish = broken
        with caplog.at_level(logging.ERROR, logger="observatory.ingest"):
            r = await p.post({"event_name": "x", "user_id": "u"}, headers={"X-Request-ID": "boom-1"})
        assert (r.status_code, r.json()["error"]) == (503, "publish_failed"), r.text
        assert r.headers["retry-after"] and "delivery_tag" not in r.text
        record = next(rec for rec in caplog.records if "unexpected error while publishing" in rec.getMessage())
        assert record.exc_info and record.exc_info[0] is KeyError
        metrics = (await p.private.get("/metrics")).text
        assert 'ingest_publish_failures_total{reason="unexpected"} 1.0' in metrics
        assert await _queue_depth(p.broker.url, p.broker.queue) == 0


async def test_backtests_are_rate_limited_per_key(shop, make_forecaster):
    store, _ = shop
    async with make_forecaster(store, backtests_per_minute=1) as (app, http):
        first = await http.get("/v1/backtest/no_such_metric", headers=READ)  # spends the key's one token
        limited = await http.get("/v1/backtest/no_such_metric", headers=READ)
        other_key = await http.get("/v1/backtest/no_such_metric", headers=ADMIN)
    assert first.status_code == 404
    assert (limited.status_code, limited.json()["error"]) == (429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert other_key.status_code == 404, "each key has its own budget"
