"""Ingest's publisher under a stalled broker and near-limit requests, on a private RabbitMQ node
(its memory alarm must not touch the session's node): waiting requests and bytes are capped and
requests beyond the cap answer 503 at once; groups never exceed the broker's max_message_size."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import orjson
import pytest

from observatory.localstack.cluster import ConfiguredNode, ctl
from observatory.settings import BrokerSettings
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.slow

BROKER_MAX_MESSAGE = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = ConfiguredNode(
        tmp_path_factory.mktemp("rabbit-bounds"),
        name="bounds",
        extra_config=[f"max_message_size = {BROKER_MAX_MESSAGE}"],
    )
    node.start()
    yield node
    node.destroy()


@pytest.fixture
def broker(node) -> BrokerSettings:
    name = f"bounds_{uuid.uuid4().hex[:8]}"
    return BrokerSettings(
        url=node.url, exchange=name, queue=name, dead_letter_exchange=f"{name}.dlx", dead_letter_queue=f"{name}.dead"
    )


def near_limit_request() -> list[dict]:
    """~960 kB of JSON: under ingest's 1 MiB body limit, and within the schema's property limits."""
    return [
        {
            "event_name": "x",
            "user_id": f"u{i}",
            "event_id": str(uuid.uuid4()),
            "properties": {f"p{k}": "x" * 8000 for k in range(10)},
        }
        for i in range(12)
    ]


async def queued_messages(broker: BrokerSettings) -> list[aio_pika.abc.AbstractIncomingMessage]:
    conn = await aio_pika.connect(broker.url)
    got = []
    async with conn:
        ch = await conn.channel()
        q = await ch.get_queue(broker.queue)
        while (msg := await q.get(fail=False, no_ack=True)) is not None:
            got.append(msg)
    return got


async def test_many_near_limit_requests_at_once_never_make_a_message_over_the_broker_limit(make_pipeline, broker):
    requests = [near_limit_request() for _ in range(24)]
    body_sizes = [len(orjson.dumps(r)) for r in requests]
    assert min(body_sizes) > BROKER_MAX_MESSAGE / 3, "each request is a large share of the broker's limit"
    async with make_pipeline(
        consumer=False, broker=broker, publish_group_bytes=1_500_000, publish_in_flight=1, confirm_timeout_s=30
    ) as p:
        responses = await asyncio.gather(*(p.post(r) for r in requests))
        assert [r.status_code for r in responses] == [202] * len(requests), [
            r.text[:200] for r in responses if r.status_code != 202
        ][:3]
    messages = await queued_messages(broker)
    assert all(len(m.body) <= BROKER_MAX_MESSAGE for m in messages), max(len(m.body) for m in messages)
    queued_ids = {ev["event_id"] for m in messages for ev in orjson.loads(m.body)}
    assert queued_ids == {ev["event_id"] for r in requests for ev in r}, "every accepted event queued once"


async def test_stalled_broker_bounds_waiting_requests_and_answers_503_at_once_beyond_the_cap(
    make_pipeline, broker, node
):
    cap = 8
    async with make_pipeline(consumer=False, broker=broker, publish_max_waiting=cap, confirm_timeout_s=8) as p:
        assert (await p.post({"event_name": "x", "user_id": "before"})).status_code == 202
        publisher = p.app.state.publisher
        ctl(node, "set_vm_memory_high_watermark", "0")  # memory alarm: the node blocks publishers
        try:
            order: list[tuple[int, int, str]] = []
            peak = {"waiting": 0, "bytes": 0}

            async def send(i: int):
                r = await p.post([{"event_name": "x", "user_id": f"stall{i}", "properties": {"pad": "y" * 4000}}])
                order.append((i, r.status_code, r.json().get("message", "") if r.status_code != 202 else ""))
                if r.status_code == 503:
                    assert r.headers["retry-after"]

            async def sample():
                while True:
                    peak["waiting"] = max(peak["waiting"], publisher.waiting)
                    peak["bytes"] = max(peak["bytes"], publisher.waiting_bytes)
                    await asyncio.sleep(0.005)

            sampler = asyncio.create_task(sample())
            held = [asyncio.create_task(send(i)) for i in range(cap)]
            await wait_until(
                "the first requests waiting for the stalled broker", lambda: publisher.waiting == cap, 10, 0.01
            )
            await asyncio.gather(*(send(cap + i) for i in range(3 * cap)))  # beyond the cap
            overflow = [o for o in order if o[0] >= cap]
            assert len(overflow) == 3 * cap and all(code == 503 for _, code, _ in overflow)
            assert all("too many requests wait" in msg for _, _, msg in overflow)
            assert not any(o[0] < cap for o in order), "the overflow answered while the held requests still wait"
            await asyncio.gather(*held)
            sampler.cancel()
            held_codes = [code for i, code, _ in order if i < cap]
            assert held_codes == [503] * cap, "never 202 without a confirm: the held requests time out"
            assert peak["waiting"] <= cap and peak["bytes"] <= cap * 5000, peak  # each request is < 5 kB encoded
            assert publisher.waiting == 0 and publisher.waiting_bytes == 0, "nothing left behind"
        finally:
            ctl(node, "set_vm_memory_high_watermark", "0.4")
        await wait_until("ingest publishes again once the alarm clears", lambda: _accepted(p), 60, 0.5)


async def _accepted(p) -> bool:
    return (await p.post({"event_name": "x", "user_id": "after"})).status_code == 202
