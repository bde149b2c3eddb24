"""Consumer behaviour on a real broker and embedded ClickHouse: poison messages, insert failures."""

from __future__ import annotations

import uuid

import aio_pika
import orjson
from prometheus_client.parser import text_string_to_metric_families

from observatory.store.client import connect
from observatory.store.migrate import migrate
from tests.integration.conftest import count_rows, wait_until


def event(i: int, **kw) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "product_viewed",
        "user_id": f"u{i}",
        "session_id": "",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "received_at": "2026-11-20T10:00:00.500Z",
        "properties": {"product_id": "p", "price": 1.0},
        "source": "direct",
        **kw,
    }


def sample_value(exposition: str, name: str) -> float:
    """The value of an unlabelled sample in a /metrics text (0 when absent)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    return 0.0


async def publish_raw(broker, body: bytes, **props) -> None:
    conn = await aio_pika.connect(broker.url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(broker.exchange)
        await ex.publish(aio_pika.Message(body=body, delivery_mode=2, **props), routing_key="events")


async def drain_dead(broker, expected: int, timeout_s: float = 10) -> list[aio_pika.abc.AbstractIncomingMessage]:
    conn = await aio_pika.connect(broker.url)
    got = []
    async with conn:
        ch = await conn.channel()
        q = await ch.get_queue(broker.dead_letter_queue)

        async def take():
            msg = await q.get(fail=False)
            if msg:
                await msg.ack()
                got.append(msg)
            return len(got) >= expected

        await wait_until(f"{expected} dead-lettered message(s)", take, timeout_s)
    return got


async def test_poison_messages_go_to_dead_letter_queue_and_consumer_continues(make_pipeline, ch):
    async with make_pipeline() as p:
        await publish_raw(p.broker, b"\x00\xffnot json")
        await publish_raw(p.broker, b'{"just": "an object without fields"}')  # one event, invalid
        await publish_raw(p.broker, b"42")  # JSON, but no event(s)
        mixed = [event(1), event(2, event_id="not-a-uuid"), event(3)]
        await publish_raw(p.broker, orjson.dumps(mixed))
        r = await p.post({"event_name": "custom", "user_id": "after-poison"})
        assert r.status_code == 202

        await wait_until("good events stored", lambda: count_rows(ch, p.db) == 3)
        users = {u for (u,) in ch.query(f"SELECT user_id FROM {p.db}.events FINAL").result_rows}
        assert users == {"u1", "u3", "after-poison"}

        dead = await drain_dead(p.broker, 4)
        reasons = sorted(m.headers["x-observatory-reason"] for m in dead)
        assert reasons == ["invalid", "invalid_event", "invalid_event", "undecodable"]
        by_reason = {m.headers["x-observatory-reason"]: m for m in dead}
        assert by_reason["undecodable"].body == b"\x00\xffnot json", "the poison body is kept as it was"
        bad_events = [orjson.loads(m.body) for m in dead if m.headers["x-observatory-reason"] == "invalid_event"]
        assert {"just": "an object without fields"} in bad_events
        assert any(ev.get("event_id") == "not-a-uuid" for ev in bad_events)
        assert all(m.headers["x-observatory-error"] for m in dead)
        metrics = (await p.private.get("/metrics")).text
        assert 'consumer_dead_lettered_total{reason="undecodable"} 1.0' in metrics


async def test_insert_failure_keeps_messages_until_store_recovers(make_pipeline, ch, store_settings):
    async with make_pipeline() as p:
        assert (await p.post({"event_name": "x", "user_id": "before"})).status_code == 202
        await wait_until("first row", lambda: count_rows(ch, p.db) == 1)
        errors_before = sample_value((await p.private.get("/metrics")).text, "consumer_insert_errors_total")

        ch.command(f"DROP TABLE {p.db}.events_daily_mv")
        ch.command(f"DROP TABLE {p.db}.events")  # a real fault: inserts now fail
        ch.command(f"TRUNCATE TABLE {p.db}.schema_migrations")
        batch = [{"event_name": "x", "user_id": f"during{i}"} for i in range(20)]
        assert (await p.post(batch)).status_code == 202

        await wait_until("consumer reports not ready", lambda: not p.consumer.ready(), 10)
        ready = await p.http.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["consumer"] is False
        errors = sample_value((await p.private.get("/metrics")).text, "consumer_insert_errors_total")
        assert errors > errors_before, "the failed inserts are counted"

        client = connect(store_settings)
        migrate(client, store_settings)  # the operator repairs the schema
        client.close()
        await wait_until("the held batch inserted after recovery", lambda: count_rows(ch, p.db) == 20, 60)
        await wait_until("consumer ready again", p.consumer.ready, 10)


async def test_large_batches_are_flushed_at_batch_rows(make_pipeline, ch):
    from observatory.settings import ConsumerSettings

    async with make_pipeline(consumer_settings=ConsumerSettings(batch_rows=500, flush_ms=60_000)) as p:
        for k in range(3):
            body = [{"event_name": "x", "user_id": f"u{k}-{i}"} for i in range(250)]
            assert (await p.post(body)).status_code == 202

        # 750 rows: one flush at 500 rows happens long before the 60 s timer; the last 250 wait for it
        async def one_batch_recorded():
            return "consumer_batch_rows_count 1.0" in (await p.private.get("/metrics")).text

        await wait_until("one size-triggered flush", one_batch_recorded, 15)
        hist = (await p.private.get("/metrics")).text
        assert "consumer_batch_rows_sum 500.0" in hist
        assert count_rows(ch, p.db, final=False) == 500


async def test_rows_clickhouse_refuses_are_dead_lettered_with_its_error_and_the_rest_stored(make_pipeline, ch):
    """A data error (here a constraint of the test's own table) is isolated by bisecting the batch:
    the refused rows go to the dead-letter queue with ClickHouse's error, the others are stored, the
    batch is acked and the consumer keeps draining (no retry loop, stays ready)."""
    from observatory.settings import ConsumerSettings

    async with make_pipeline(consumer_settings=ConsumerSettings(flush_ms=1000, queue_poll_s=0.5)) as p:
        ch.command(f"ALTER TABLE {p.db}.events ADD CONSTRAINT no_refused CHECK user_id NOT LIKE 'refused%'")
        good = [event(i) for i in range(40)]
        refused = [event(100, user_id="refused-1"), event(101, user_id="refused-2")]
        # three messages flushed as one batch: refused rows in the middle of the first and in the last
        await publish_raw(p.broker, orjson.dumps(good[:10] + [refused[0]] + good[10:20]))
        await publish_raw(p.broker, orjson.dumps(good[20:30]))
        await publish_raw(p.broker, orjson.dumps(good[30:] + [refused[1]]))

        await wait_until("the 40 good rows stored", lambda: count_rows(ch, p.db) == 40, 30)
        dead = await drain_dead(p.broker, 2)
        assert sorted(orjson.loads(m.body)["event_id"] for m in dead) == sorted(e["event_id"] for e in refused)
        for m in dead:
            assert m.headers["x-observatory-reason"] == "rejected_by_store"
            assert m.headers["x-clickhouse-code"] == 469
            assert m.headers["x-clickhouse-error"] == "VIOLATED_CONSTRAINT"
            assert "no_refused" in m.headers["x-observatory-error"], "ClickHouse's own message is kept"
            body = orjson.loads(m.body)
            assert body["properties"] == {"product_id": "p", "price": 1.0}, "replayable event, not a raw row"
        stored = {u for (u,) in ch.query(f"SELECT user_id FROM {p.db}.events FINAL").result_rows}
        assert stored == {f"u{i}" for i in range(40)}

        # the consumer keeps draining: later events are stored, and it never went not-ready
        assert (await p.post({"event_name": "x", "user_id": "after"})).status_code == 202
        await wait_until("later event stored", lambda: count_rows(ch, p.db) == 41, 30)
        assert p.consumer.ready()
        metrics = (await p.private.get("/metrics")).text
        assert 'consumer_dead_lettered_total{reason="rejected_by_store"} 2.0' in metrics
        assert "consumer_insert_errors_total 0.0" in metrics, "handled rows are not insert errors (no retry alert)"


async def test_batches_are_flushed_at_batch_bytes(make_pipeline, ch):
    from observatory.settings import ConsumerSettings

    settings = ConsumerSettings(batch_rows=100_000, batch_bytes=20_000, flush_ms=60_000, queue_poll_s=0.5)
    async with make_pipeline(consumer_settings=settings) as p:
        big = "x" * 3000
        for k in range(10):  # ~3.2 kB per message: the 7th message crosses 20 kB long before the 60 s timer
            await publish_raw(p.broker, orjson.dumps([event(k, properties={"blob": big})]))

        async def one_batch_recorded():
            return "consumer_batch_rows_count 1.0" in (await p.private.get("/metrics")).text

        await wait_until("one size-triggered flush", one_batch_recorded, 15)
        stored = count_rows(ch, p.db, final=False)
        assert 6 <= stored <= 7, stored
