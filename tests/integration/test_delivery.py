"""Delivery guarantees (docs/faults.md): the consumer acks only what it stored or dead-lettered, ingest
answers from what the broker confirmed, and a dead letter is in the dead-letter queue or an error.
Real RabbitMQ and chDB; faults are real (a missing GeoIP file, a deleted queue, a broker policy, a
memory alarm) except where a test injects an error into one step, which it says."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import aio_pika
import orjson
import pytest

from observatory.events import enrich
from observatory.localstack.cluster import ConfiguredNode, ctl
from observatory.settings import BrokerSettings, ConsumerSettings
from tests.integration.conftest import API_KEY, count_rows, wait_until
from tests.integration.test_consumer import drain_dead, event, publish_raw, sample_value

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def browser_event(i: int, ip: str) -> dict:
    """An event as ingest queues it for a browser: web properties, the client's address and agent."""
    return event(
        i,
        properties={"$current_url": f"https://shop.test/p/{i}", "$referrer": "$direct"},
        ingest_client_ip=ip,
        ingest_user_agent=BROWSER,
    )


def ph_event(name: str) -> dict:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"uuid": str(uuid.uuid4()), "event": name, "timestamp": now, "properties": {"distinct_id": "d-1"}}


def posthog_batch_with_one_invalid_event() -> dict:
    invalid = ph_event("purchase_completed")  # lacks its required typed properties: dead-lettered
    return {"api_key": API_KEY, "batch": [ph_event("fine"), invalid]}


async def queue_length(broker: BrokerSettings, name: str) -> int:
    conn = await aio_pika.connect(broker.url)
    async with conn:
        channel = await conn.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0


async def _exists(broker: BrokerSettings, name: str) -> bool:
    conn = await aio_pika.connect(broker.url)
    async with conn:
        channel = await conn.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        return True


async def delete_queue(broker: BrokerSettings, name: str) -> None:
    conn = await aio_pika.connect(broker.url)
    async with conn:
        channel = await conn.channel()
        await channel.queue_delete(name)


async def metric(p, name: str) -> float:
    return sample_value((await p.private.get("/metrics")).text, name)


# -- item 3: the consumer never acks what it did not store or dead-letter ------------------------------


async def test_an_error_taking_one_message_dead_letters_it_and_every_other_message_is_stored(
    make_pipeline, ch, monkeypatch
):
    """Injected: the country lookup raises for ONE client address (a bug specific to that message)."""
    real_country = enrich.country

    def country(ip: str) -> str:
        if ip == "198.51.100.66":
            raise RuntimeError("injected: this address breaks the lookup")
        return real_country(ip)

    monkeypatch.setattr(enrich, "country", country)
    n = 12
    async with make_pipeline(consumer_settings=ConsumerSettings(flush_ms=200, queue_poll_s=0.5)) as p:
        events = [browser_event(i, "198.51.100.66" if i == 5 else f"198.51.100.{i + 1}") for i in range(n)]
        for ev in events:
            await publish_raw(p.broker, orjson.dumps([ev]))

        await wait_until("the other messages stored", lambda: count_rows(ch, p.db) == n - 1, 30)
        dead = await drain_dead(p.broker, 1)
        assert [orjson.loads(m.body)[0]["event_id"] for m in dead] == [events[5]["event_id"]]
        assert dead[0].headers["x-observatory-reason"] == "consumer_error"
        assert dead[0].headers["x-observatory-error-class"] == "RuntimeError"
        assert "injected" in dead[0].headers["x-observatory-error"]
        stored = {u for (u,) in ch.query(f"SELECT user_id FROM {p.db}.events FINAL").result_rows}
        assert stored == {f"u{i}" for i in range(n) if i != 5}, "n messages: n-1 stored + 1 dead-lettered"
        assert p.consumer.ready(), "an error of one message does not stop the consumer"


async def test_missing_geoip_database_holds_messages_unacked_until_it_is_back(make_pipeline, ch, monkeypatch, tmp_path):
    """A real environment fault: the GeoIP database file is missing. Every browser event would fail the
    same way: the consumer holds its messages (no ack, not ready) instead of acking them unstored."""
    monkeypatch.setattr(enrich._Geo, "_db", None)
    monkeypatch.setattr(enrich._Geo, "path", str(tmp_path / "geoip-missing.dat.gz"), raising=False)
    enrich.country.cache_clear()
    settings = ConsumerSettings(flush_ms=100, queue_poll_s=0.2, retry_initial_s=0.2, retry_max_s=0.5)
    async with make_pipeline(consumer_settings=settings) as p:
        await publish_raw(p.broker, orjson.dumps([event(100)]))  # no browser context: no lookup
        await wait_until("the first event stored", lambda: count_rows(ch, p.db) == 1, 30)

        later = [browser_event(i, "8.8.8.8") for i in range(4)] + [event(200 + i) for i in range(3)]
        for ev in later:
            await publish_raw(p.broker, orjson.dumps([ev]))
        await wait_until("consumer not ready", lambda: not p.consumer.ready(), 30)
        await wait_until("all later messages held", lambda: _held(p, len(later)), 30)
        ready = await p.http.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["consumer"] is False
        assert count_rows(ch, p.db) == 1, "nothing after the fault is stored out of order or acked"

        enrich._Geo.path = None  # the operator restores the database
        await wait_until("the held messages stored", lambda: count_rows(ch, p.db) == 1 + len(later), 60)
        await wait_until("consumer ready again", p.consumer.ready, 30)
        assert await metric(p, "consumer_held_messages") == 0
        countries = {c for (c,) in ch.query(f"SELECT country FROM {p.db}.events FINAL WHERE country != ''").result_rows}
        assert countries == {"US"}, "the held browser events were enriched once the database was back"
        await wait_until("the queue drained (all acked)", lambda: _queue_empty(p), 30)


async def _held(p, n: int) -> bool:
    return await metric(p, "consumer_held_messages") == n


async def _queue_empty(p) -> bool:
    return await queue_length(p.broker, p.broker.queue) == 0 and await _no_unacked(p)


async def _no_unacked(p) -> bool:
    return not p.consumer._open


async def test_flusher_death_makes_the_consumer_not_ready(make_pipeline):
    """Injected: the flush step raises where nothing catches it (a defect), killing the flusher task."""
    async with make_pipeline() as p:
        assert p.consumer.ready()

        async def broken_flush(batch):
            raise RuntimeError("injected defect in the flush step")

        p.consumer._flush = broken_flush
        await publish_raw(p.broker, orjson.dumps([event(1)]))
        await wait_until("consumer not ready", lambda: not p.consumer.ready(), 30)
        ready = await p.http.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["consumer"] is False
        assert await metric(p, "consumer_ready") == 0


# -- item 5: dead letters are mandatory; a returned one repairs the topology --------------------------


async def test_consumer_dead_letters_redeclare_a_deleted_dead_letter_queue(make_pipeline):
    """The returned dead letter is published again on the same channel once the queue is declared again:
    no failed attempt, no reconnect, no redelivery of the batch (before: the return failed the flush,
    the link reconnected, and the broker redelivered the whole batch)."""
    async with make_pipeline() as p:
        channel = p.consumer.link.channel
        await delete_queue(p.broker, p.broker.dead_letter_queue)  # deleted by hand: the DLX routes nowhere
        await publish_raw(p.broker, b"\x00 not json")
        await wait_until("the dead-letter queue declared again", lambda: _exists(p.broker, p.broker.dead_letter_queue))
        dead = await drain_dead(p.broker, 1, 30)
        assert dead[0].body == b"\x00 not json" and dead[0].headers["x-observatory-reason"] == "undecodable"
        assert p.consumer.link.channel is channel, "repaired in place, not by reconnecting"
        assert await metric(p, "consumer_insert_errors_total") == 0, "no failed flush attempt"


async def test_ingest_dead_letters_redeclare_a_deleted_dead_letter_queue(make_pipeline):
    async with make_pipeline(consumer=False) as p:
        await delete_queue(p.broker, p.broker.dead_letter_queue)
        r = await p.http.post("/batch", json=posthog_batch_with_one_invalid_event())
        assert r.status_code == 200, r.text
        assert await _exists(p.broker, p.broker.dead_letter_queue), "declared again before the answer"
        dead = await drain_dead(p.broker, 1, 30)
        assert orjson.loads(dead[0].body)["event"] == "purchase_completed"
        assert await metric(p, "ingest_dead_letter_failures_total") == 0


# -- item 4: no 503 after an accepted publish ----------------------------------------------------------


async def test_dead_letter_failure_after_the_valid_events_were_confirmed_answers_success(make_pipeline, rabbit):
    async with make_pipeline(consumer=False) as p:
        policy = f"refuse-{p.broker.dead_letter_queue}"
        # a real broker refusal of the dead letters only: the dead-letter queue takes no message
        ctl(
            rabbit,
            "set_policy",
            policy,
            f"^{p.broker.dead_letter_queue.replace('.', '[.]')}$",
            '{"max-length": 0, "overflow": "reject-publish"}',
            "--apply-to",
            "queues",
        )
        try:
            r = await p.http.post("/batch", json=posthog_batch_with_one_invalid_event())
            assert r.status_code == 200, r.text  # not 503: the valid event was confirmed
            assert await queue_length(p.broker, p.broker.queue) == 1, "the valid event is queued once"
            assert await metric(p, "ingest_dead_letter_failures_total") == 1
            assert await queue_length(p.broker, p.broker.dead_letter_queue) == 0
        finally:
            ctl(rabbit, "clear_policy", policy)


@pytest.fixture(scope="module")
def alarm_node(tmp_path_factory):
    """A private node: its memory alarm must not touch the session's node."""
    node = ConfiguredNode(tmp_path_factory.mktemp("rabbit-delivery"), name="delivery")
    node.start()
    yield node
    node.destroy()


@pytest.mark.slow
async def test_a_group_confirmed_after_the_request_deadline_answers_202(make_pipeline, alarm_node):
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    broker = BrokerSettings(
        url=alarm_node.url,
        exchange=name,
        queue=name,
        dead_letter_exchange=f"{name}.dlx",
        dead_letter_queue=f"{name}.dead",
    )
    async with make_pipeline(consumer=False, broker=broker, confirm_timeout_s=60) as p:
        publisher = p.app.state.publisher
        publisher.deadline_s = 0.5  # the deadline ends long before the broker confirms (60 s allowed)
        ctl(alarm_node, "set_vm_memory_high_watermark", "0")  # memory alarm: the node stops confirming
        try:
            request = asyncio.create_task(p.post({"event_name": "x", "user_id": "late-confirm"}))
            await wait_until("the request's group sent", lambda: publisher._in_flight == 1, 10, 0.01)
            await asyncio.sleep(3 * publisher.deadline_s)  # past the deadline, the broker still silent
            assert not request.done(), "sent: the broker's answer decides, not the deadline"
        finally:
            ctl(alarm_node, "set_vm_memory_high_watermark", "0.4")
        r = await request
        assert r.status_code == 202, r.text
        assert await queue_length(broker, broker.queue) == 1
