"""A message that crashes the consumer on every delivery: with the quorum events queue, RabbitMQ
dead-letters it after the delivery limit (at-least-once) and the rest of the stream is stored.

The crash is a real `kill -9` of a consumer subprocess each time it holds the message (prefetch 1,
so the message is alone in its batch and never acked), as a message that makes the process die would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid

import aio_pika
import httpx
import orjson
import pytest

from observatory.localstack.proc import free_port
from observatory.settings import BrokerSettings
from tests.integration.conftest import query_store, service_env, wait_until

pytestmark = pytest.mark.slow

LIMIT = 2


def event(i: int) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "x",
        "user_id": f"u{i}",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "received_at": "2026-11-20T10:00:00.500Z",
    }


async def metric(port: int, name: str) -> float | None:
    async with httpx.AsyncClient() as c:
        try:
            text = (await c.get(f"http://127.0.0.1:{port}/metrics", timeout=2)).text
        except httpx.HTTPError:
            return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def test_a_message_that_kills_the_consumer_each_time_is_dead_lettered_after_the_delivery_limit(rabbit, tmp_path):
    name = f"limit_{uuid.uuid4().hex[:8]}"
    broker = BrokerSettings(
        url=rabbit.url,
        exchange=name,
        queue=name,
        dead_letter_exchange=f"{name}.dlx",
        dead_letter_queue=f"{name}.dead",
        queue_type="quorum",
        delivery_limit=LIMIT,
    )
    dsn, db = f"chdb://{tmp_path / 'chdb'}", "limittest"
    port = free_port()
    base_env = service_env(
        broker, dsn, db, OBS_AMQP_QUEUE_TYPE="quorum", OBS_AMQP_DELIVERY_LIMIT=LIMIT, OBS_CONSUMER_METRICS_PORT=port
    )
    log = tmp_path / "consumer.log"

    conn = await aio_pika.connect(broker.url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        from observatory.broker import topology

        exchange, _, _ = await topology.declare(ch, broker)
        killer = [event(0)]
        rest = [[event(i)] for i in range(1, 21)]
        for batch in [killer, *rest]:
            await exchange.publish(aio_pika.Message(orjson.dumps(batch), delivery_mode=2), routing_key="events")

    def start(**extra) -> subprocess.Popen:
        env = {**base_env, **{k: str(v) for k, v in extra.items()}}
        return subprocess.Popen(
            [sys.executable, "-m", "observatory.cli", "run", "consumer"],
            env=env,
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
        )

    async def dead_count() -> int:
        c = await aio_pika.connect(broker.url)
        async with c:
            q = await (await c.channel()).declare_queue(broker.dead_letter_queue, passive=True)
            return q.declaration_result.message_count

    kills = 0
    # the consumer holds the message (prefetch 1, a batch that would flush only after a minute) and dies
    while await dead_count() == 0:
        assert kills <= LIMIT + 2, f"still not dead-lettered after {kills} crashes (limit {LIMIT})"
        proc = start(OBS_CONSUMER_PREFETCH=1, OBS_CONSUMER_FLUSH_MS=60_000)
        try:
            await wait_until(f"consumer received the message (log {log})", lambda: _received(port), 60, 0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills += 1
        await wait_until("message back in the queue or dead-lettered", lambda: _settled(broker), 20)
    assert kills == LIMIT + 1, f"{kills} deliveries before dead-lettering, limit {LIMIT}"

    proc = start(OBS_CONSUMER_FLUSH_MS=50)  # an unharmed consumer drains the rest
    try:
        await wait_until("queue drained", lambda: _drained(broker), 60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    stored = {r["user_id"] for r in query_store(dsn, db, f"SELECT user_id FROM {db}.events FINAL")}
    assert stored == {f"u{i}" for i in range(1, 21)}, "the rest of the stream is stored, the killer is not"
    c = await aio_pika.connect(broker.url)
    async with c:
        q = await (await c.channel()).get_queue(broker.dead_letter_queue)
        dead = await q.get(fail=True)
        await dead.ack()
    assert orjson.loads(dead.body) == killer, "the killer message is kept as it was"
    death = dead.headers["x-death"][0]
    assert death["reason"] == "delivery_limit" and death["queue"] == broker.queue


async def _received(port: int) -> bool:
    return (await metric(port, "consumer_messages_received_total") or 0) >= 1


async def _settled(broker) -> bool:
    c = await aio_pika.connect(broker.url)
    async with c:
        ch = await c.channel()
        main = (await ch.declare_queue(broker.queue, passive=True)).declaration_result
        dead = (await ch.declare_queue(broker.dead_letter_queue, passive=True)).declaration_result
        return main.consumer_count == 0 and (main.message_count == 21 or dead.message_count == 1)


async def _drained(broker) -> bool:
    c = await aio_pika.connect(broker.url)
    async with c:
        res = (await (await c.channel()).declare_queue(broker.queue, passive=True)).declaration_result
        return res.message_count == 0 and res.consumer_count == 1
