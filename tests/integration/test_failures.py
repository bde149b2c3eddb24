"""Zero loss under failure: a consumer SIGKILLed mid-stream, a broker that goes away and comes back.

These start extra processes (a consumer subprocess with its own chDB folder, a second RabbitMQ
node) so they take longer than the other integration tests.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid

import aio_pika
import httpx
import pytest

from observatory.localstack.proc import free_port
from observatory.localstack.rabbitmq import RabbitNode
from observatory.settings import BrokerSettings
from tests.integration.conftest import query_store, service_env, wait_until

pytestmark = pytest.mark.slow


def start_consumer(env: dict, log_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "observatory.cli", "run", "consumer"],
        env=env,
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )


async def queue_counts(broker) -> tuple[int, int]:
    conn = await aio_pika.connect(broker.url)
    async with conn:
        ch = await conn.channel()
        res = (await ch.declare_queue(broker.queue, passive=True)).declaration_result
        return res.message_count, res.consumer_count


async def test_consumer_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(
    make_pipeline, broker_settings, tmp_path
):
    dsn, db = f"chdb://{tmp_path / 'chdb'}", "killtest"
    port = free_port()
    env = service_env(
        broker_settings,
        dsn,
        db,
        OBS_CONSUMER_METRICS_PORT=port,
        OBS_CONSUMER_FLUSH_MS=20,
        OBS_CONSUMER_BATCH_ROWS=100,
        OBS_CONSUMER_PREFETCH=50,
    )
    log = tmp_path / "consumer.log"
    accepted: list[str] = []

    async with make_pipeline(consumer=False) as p:
        consumer = start_consumer(env, log)
        try:

            async def ready():
                async with httpx.AsyncClient() as c:
                    try:
                        return (await c.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200
                    except httpx.HTTPError:
                        return False

            await wait_until(f"consumer subprocess ready (log {log})", ready, 60)

            async def send(n_requests: int):
                for _ in range(n_requests):
                    batch = [{"event_name": "x", "user_id": "u", "event_id": str(uuid.uuid4())} for _ in range(10)]
                    r = await p.post(batch)
                    assert r.status_code == 202, r.text
                    accepted.extend(e["event_id"] for e in batch)
                    await asyncio.sleep(0.002)

            await send(150)
            consumer.send_signal(signal.SIGKILL)  # mid-stream: inserted-but-unacked batches redeliver
            consumer.wait(10)
            await send(50)  # the queue holds these meanwhile
            consumer = start_consumer(env, log)
            await wait_until("restarted consumer ready", ready, 60)
            await send(100)
            await wait_until("queue drained", lambda: _drained(p.broker), 60)
            consumer.send_signal(signal.SIGTERM)
            assert consumer.wait(40) == 0, "SIGTERM: flush, ack, exit 0"
        finally:
            if consumer.poll() is None:
                consumer.kill()

    rows = query_store(dsn, db, f"SELECT count() AS final_rows, uniqExact(event_id) AS ids FROM {db}.events FINAL")
    raw = query_store(dsn, db, f"SELECT count() AS raw FROM {db}.events")[0]["raw"]
    ids = {r["event_id"] for r in query_store(dsn, db, f"SELECT toString(event_id) AS event_id FROM {db}.events")}
    assert len(accepted) == 3000
    assert ids == set(accepted), f"missing {len(set(accepted) - ids)}, unexpected {len(ids - set(accepted))}"
    assert rows[0]["final_rows"] == rows[0]["ids"] == 3000, "each accepted event exactly once in query results"
    assert raw >= 3000


async def _drained(broker) -> bool:
    ready, consumers = await queue_counts(broker)
    return ready == 0 and consumers == 1


async def test_broker_outage_gives_503_then_recovers_without_loss(make_pipeline, tmp_path, chdb, ch, store_settings):
    node = RabbitNode(tmp_path / "rabbit", name="outage").start()
    name = f"outage_{uuid.uuid4().hex[:8]}"
    broker = BrokerSettings(
        url=node.url, exchange=name, queue=name, dead_letter_exchange=f"{name}.dlx", dead_letter_queue=f"{name}.dead"
    )
    try:
        async with make_pipeline(consumer=False, broker=broker, confirm_timeout_s=2) as p:
            before = [{"event_name": "x", "user_id": f"before{i}", "event_id": str(uuid.uuid4())} for i in range(5)]
            assert (await p.post(before)).status_code == 202

            node.stop()
            await wait_until("ingest not ready while the broker is down", lambda: _status(p, "/health/ready", 503), 30)
            for _ in range(5):
                r = await p.post({"event_name": "x", "user_id": "during"})
                assert r.status_code == 503, "never 202 without a broker confirm"
                assert r.headers["retry-after"]
            metrics = (await p.private.get("/metrics")).text
            assert "ingest_broker_up 0.0" in metrics

            node.start()  # same ports, same data folder
            await wait_until("ingest ready again by itself", lambda: _status(p, "/health/ready", 200), 60)
            after = {"event_name": "x", "user_id": "after", "event_id": str(uuid.uuid4())}
            assert (await p.post(after)).status_code == 202

        # drain into ClickHouse: the 5 accepted before the outage survived it (durable queue, persistent)
        async with make_pipeline(consumer=True, broker=broker) as p:
            await wait_until(
                "all accepted events stored",
                lambda: ch.query(f"SELECT count() FROM {p.db}.events FINAL").result_rows[0][0] == 6,
                30,
            )
            users = {u for (u,) in ch.query(f"SELECT user_id FROM {p.db}.events FINAL").result_rows}
            assert users == {f"before{i}" for i in range(5)} | {"after"}
    finally:
        node.destroy()


async def _status(p, path: str, code: int) -> bool:
    return (await p.http.get(path)).status_code == code
