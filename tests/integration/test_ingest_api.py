"""Ingest API against a real RabbitMQ node and the real consumer writing to embedded ClickHouse."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from tests.integration.conftest import OTHER_KEY, count_rows, wait_until

NOW = datetime.now(UTC).replace(microsecond=123000)


def purchase(**overrides) -> dict:
    ev = {
        "event_name": "purchase_completed",
        "event_id": str(uuid.uuid4()),
        "user_id": "u-ünï-😀",
        "session_id": "s-1",
        "timestamp": NOW.isoformat().replace("+00:00", "Z"),
        "properties": {
            "order_id": "o-1",
            "total_value": 59.9,
            "payment_method": "card",
            "currency": "EUR",
            "items": [
                {"product_id": "p-7", "quantity": 2, "price": 29.95, "meta": {"colour": "grün", "tags": ["a", "日本"]}}
            ],
        },
    }
    ev.update(overrides)
    return ev


async def test_single_and_batch_events_arrive_intact(make_pipeline, ch):
    async with make_pipeline() as p:
        single = purchase()
        r = await p.post(single)
        assert r.status_code == 202, r.text
        assert r.json() == {"accepted": 1, "rejected": []}
        assert r.headers["x-request-id"]

        batch = [
            {
                "event_name": "product_viewed",
                "user_id": f"u{i}",
                "event_id": str(uuid.uuid4()),
                "properties": {"product_id": f"p{i}", "price": i * 1.5, "category": "čaj"},
            }
            for i in range(50)
        ]
        r = await p.post(batch)
        assert r.status_code == 202 and r.json()["accepted"] == 50

        await wait_until("51 rows in ClickHouse", lambda: count_rows(ch, p.db) == 51)
        row = ch.query(
            f"SELECT event_id, event_name, timestamp, user_id, session_id, properties, source, "
            f"received_at, inserted_at FROM {p.db}.events FINAL WHERE event_id = {{id:UUID}}",
            parameters={"id": single["event_id"]},
        ).result_rows[0]
        assert str(row[0]) == single["event_id"]
        assert row[1] == "purchase_completed"
        assert row[2].replace(tzinfo=UTC) == NOW
        assert (row[3], row[4], row[6]) == ("u-ünï-😀", "s-1", "tests")
        assert json.loads(row[5]) == single["properties"]
        assert row[7] <= row[8], "inserted_at precedes received_at"

        names = ch.query(f"SELECT DISTINCT user_id FROM {p.db}.events FINAL WHERE event_name='product_viewed'")
        assert {r[0] for r in names.result_rows} == {f"u{i}" for i in range(50)}


async def test_generated_event_id_is_a_time_ordered_uuid(make_pipeline, ch):
    async with make_pipeline() as p:
        r = await p.post({"event_name": "custom_thing", "user_id": "u1"})
        assert r.status_code == 202
        await wait_until("the row", lambda: count_rows(ch, p.db) == 1)
        eid, ts, received = ch.query(f"SELECT event_id, timestamp, received_at FROM {p.db}.events").result_rows[0]
        assert eid.version == 7
        assert ts == received, "an event without timestamp takes the receive time"


async def test_mixed_batch_accepts_valid_and_lists_invalid(make_pipeline, ch):
    async with make_pipeline() as p:
        batch = [
            purchase(),
            purchase(
                properties={
                    "order_id": "o2",
                    "total_value": -1,
                    "payment_method": "card",
                    "items": [{"product_id": "p", "quantity": 1, "price": 1}],
                }
            ),
            {"event_name": "add_to_cart", "user_id": "u"},
            "not an object",
            {"event_name": "signup_custom", "user_id": "u2", "properties": {"plan": "pro"}},
            {"event_name": "x", "user_id": "u3", "timestamp": "2026-01-01T00:00:00"},
        ]
        r = await p.post(batch)
        assert r.status_code == 202
        body = r.json()
        assert body["accepted"] == 2
        assert [x["index"] for x in body["rejected"]] == [1, 2, 3, 5]
        reasons = {x["index"]: x["reason"] for x in body["rejected"]}
        assert "total_value" in reasons[1] and ">= 0" in reasons[1]
        assert "product_id" in reasons[2]
        assert "object" in reasons[3]
        assert "time zone" in reasons[5]
        await wait_until("2 rows", lambda: count_rows(ch, p.db) == 2)
        metrics = (await p.private.get("/metrics")).text
        assert 'ingest_events_rejected_total{reason="invalid_property"} 1.0' in metrics
        assert 'ingest_events_rejected_total{reason="missing_property"} 1.0' in metrics


async def _queue_depth(p) -> int:
    conn = await aio_pika.connect(p.broker.url)
    async with conn:
        ch = await conn.channel()
        q = await ch.declare_queue(p.broker.queue, passive=True)
        return q.declaration_result.message_count


@pytest.mark.parametrize(
    "case", ["malformed", "empty", "oversized", "too_many", "content_type", "no_key", "bad_key", "all_invalid"]
)
async def test_refusals_have_documented_status_and_write_nothing(make_pipeline, case):
    async with make_pipeline(consumer=False, max_body_bytes=4096, max_batch=10) as p:
        if case == "malformed":
            r = await p.post(content=b'{"event_name": "x", ')
            expect = (400, "malformed_json")
        elif case == "empty":
            r = await p.post([])
            expect = (400, "empty_batch")
        elif case == "oversized":
            r = await p.post({"event_name": "x", "user_id": "u", "properties": {"blob": "x" * 5000}})
            expect = (413, "body_too_large")
        elif case == "too_many":
            r = await p.post([{"event_name": "x", "user_id": "u"}] * 11)
            expect = (413, "batch_too_large")
        elif case == "content_type":
            r = await p.post(content=b'{"event_name":"x","user_id":"u"}', headers={"Content-Type": "text/plain"})
            expect = (415, "unsupported_media_type")
        elif case == "no_key":
            r = await p.http.post("/v1/events", json={"event_name": "x", "user_id": "u"})
            expect = (401, "unauthorized")
        elif case == "bad_key":
            r = await p.post({"event_name": "x", "user_id": "u"}, headers={"Authorization": "Bearer nope"})
            expect = (401, "unauthorized")
        else:
            r = await p.post([{"event_name": "x"}, {"user_id": "u"}])
            assert r.status_code == 400 and r.json()["accepted"] == 0 and len(r.json()["rejected"]) == 2
            expect = None
        if expect:
            assert (r.status_code, r.json()["error"]) == expect, r.text
            assert r.json()["message"]
        if case == "no_key":
            assert r.headers["www-authenticate"] == "Bearer"
        assert await _queue_depth(p) == 0


async def test_rate_limit_per_key_answers_429_with_retry_after(make_pipeline):
    # one token per 1000 s: no refill can happen between the requests however slow the machine
    # (the bucket arithmetic itself is tested on a fake clock in tests/unit/test_settings_auth.py)
    async with make_pipeline(consumer=False, rate_limit_events_per_s=0.001, rate_limit_burst=5) as p:
        ok = await p.post([{"event_name": "x", "user_id": "u"}] * 5)
        assert ok.status_code == 202
        limited = await p.post({"event_name": "x", "user_id": "u"})
        assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 999, "a whole token at 0.001/s"
        other = await p.post({"event_name": "x", "user_id": "u"}, headers={"Authorization": f"Bearer {OTHER_KEY}"})
        assert other.status_code == 202, "another key has its own bucket"
        assert await _queue_depth(p) == 2


async def test_same_event_id_twice_is_one_row(make_pipeline, ch):
    async with make_pipeline() as p:
        ev = purchase()
        assert (await p.post(ev)).status_code == 202
        await wait_until("first copy", lambda: count_rows(ch, p.db, final=False) == 1)
        assert (await p.post(ev)).status_code == 202
        await wait_until("second copy stored", lambda: count_rows(ch, p.db, final=False) == 2)
        assert count_rows(ch, p.db, final=True) == 1
        daily = ch.query(f"SELECT uniqExactMerge(events) FROM {p.db}.events_daily").result_rows[0][0]
        assert daily == 1, "the daily rollup counts the event once"


async def test_queue_at_max_length_answers_503_and_loses_nothing(make_pipeline, broker_settings):
    broker_settings.max_length = 3
    async with make_pipeline(consumer=False) as p:
        for i in range(3):
            assert (await p.post({"event_name": "x", "user_id": f"u{i}"})).status_code == 202
        r = await p.post({"event_name": "x", "user_id": "u-overflow"})
        assert r.status_code == 503 and r.json()["error"] == "broker_unavailable"
        assert r.headers["retry-after"]
        assert await _queue_depth(p) == 3
        metrics = (await p.private.get("/metrics")).text
        assert 'ingest_publish_failures_total{reason="nack"} 1.0' in metrics


async def test_timestamp_window_is_enforced(make_pipeline):
    async with make_pipeline(consumer=False) as p:
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        past = (datetime.now(UTC) - timedelta(days=500)).isoformat()
        r = await p.post(
            [
                {"event_name": "x", "user_id": "u", "timestamp": future},
                {"event_name": "x", "user_id": "u", "timestamp": past},
            ]
        )
        assert r.status_code == 400
        assert [x["code"] for x in r.json()["rejected"]] == ["timestamp_out_of_window"] * 2


async def test_health_and_openapi(make_pipeline):
    async with make_pipeline() as p:
        assert (await p.http.get("/health/live")).json() == {"status": "ok"}
        ready = await p.http.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"] == {"broker": True, "consumer": True}
        spec = (await p.private.get("/openapi/public.json")).json()
        assert "/v1/events" in spec["paths"] and "Event" in spec["components"]["schemas"]
        assert (await p.private.get("/docs")).status_code == 200
        assert (await p.private.get("/openapi.json")).status_code == 200
        for path in ("/docs", "/openapi.json", "/metrics"):
            assert (await p.http.get(path)).status_code == 404, f"{path} is on the public listener"
