"""GroupPublisher's failure contract: every waiter gets an answer (a PublishError), never a hang or a
foreign exception; requests are never split and groups stay under the byte cap."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from observatory.broker.publisher import GroupPublisher, PublishError


class RecordingPublisher:
    """Stands for the broker side: records each message, or fails as a bug would."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.bodies: list[bytes] = []

    async def publish(self, message) -> None:
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        self.bodies.append(message.body)


def test_an_unexpected_exception_reaches_every_waiter_as_a_publish_error():
    async def go():
        group = GroupPublisher(RecordingPublisher(KeyError("bug")), max_in_flight=1)
        results = await asyncio.gather(*(group.publish([{"n": i}]) for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, PublishError) and r.reason == "internal" for r in results), results
        assert group.waiting == 0 and group.waiting_bytes == 0

    asyncio.run(go())


def test_events_that_cannot_be_encoded_fail_as_a_publish_error():
    async def go():
        with pytest.raises(PublishError) as info:
            await GroupPublisher(RecordingPublisher()).publish([{"n": {1, 2}}])
        assert info.value.reason == "internal"

    asyncio.run(go())


def test_groups_stay_under_the_byte_cap_and_keep_every_request_whole():
    async def go():
        inner = RecordingPublisher()
        group = GroupPublisher(inner, max_in_flight=1, max_group_bytes=10_000)
        requests = [[{"r": i, "pad": "x" * 3000}] for i in range(12)]
        await asyncio.gather(*(group.publish(r) for r in requests))
        assert all(len(b) <= 10_000 for b in inner.bodies)
        assert len(inner.bodies) > 1
        assert sorted(ev["r"] for b in inner.bodies for ev in orjson.loads(b)) == list(range(12))

    asyncio.run(go())
