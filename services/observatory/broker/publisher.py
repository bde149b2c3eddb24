"""Publish batches of validated events with publisher confirms.

A call returns only once RabbitMQ confirmed the message (persisted to the durable queue). Many
concurrent calls share one confirm-mode channel, so confirms are pipelined: requests do not wait
for each other's confirms. A nack (queue full: reject-publish), a timeout or a closed connection
raises PublishError, which ingest turns into 503.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import orjson
from aiormq.exceptions import DeliveryError
from aiormq.exceptions import PublishError as AmqpPublishError
from pamqp.commands import Basic

from observatory.broker.connection import BrokerLink
from observatory.broker.topology import ROUTING_KEY

CONTENT_TYPE = "application/vnd.observatory.events+json"


class PublishError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # bounded code: unavailable | nack | timeout | returned


def encode_batch(events: list[dict], headers: dict | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body=orjson.dumps(events),
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(uuid.uuid4()),
        timestamp=time.time(),
        headers={"x-event-count": len(events), **(headers or {})},
    )


class Publisher:
    def __init__(self, link: BrokerLink, confirm_timeout_s: float) -> None:
        self.link = link
        self.confirm_timeout_s = confirm_timeout_s

    async def publish(self, message: aio_pika.Message) -> None:
        exchange = self.link.exchange
        if exchange is None or not self.link.up.is_set():
            raise PublishError("unavailable", "message broker unavailable")
        try:
            confirmation = await asyncio.wait_for(
                exchange.publish(message, routing_key=ROUTING_KEY, mandatory=True), self.confirm_timeout_s)
        except asyncio.TimeoutError as exc:
            raise PublishError("timeout", "message broker did not confirm in time") from exc
        except AmqpPublishError as exc:  # subclass of DeliveryError: unroutable (Basic.Return)
            raise PublishError("returned", "message broker could not route the message") from exc
        except DeliveryError as exc:
            raise PublishError("nack", "message broker refused the message (queue full?)") from exc
        except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise PublishError("unavailable", f"message broker unavailable: {exc}") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishError("nack", "message broker did not acknowledge the message")


class GroupPublisher:
    """Group commit on top of Publisher: concurrent requests' events share one AMQP message.

    At most `max_in_flight` messages await their confirms at once; requests that arrive meanwhile
    are gathered into the next message (up to `max_events`, never splitting a request). Each caller
    returns only when the message holding ITS events was confirmed, and gets the PublishError when
    it was not, so the 202-after-confirm contract holds per request. Under light load a request is
    published at once (no added latency); under heavy load the broker and the client handle one
    message per group instead of one per request.

    `tracing` (observatory.tracing.PublishTracing, None when tracing is off) captures each caller's
    trace context and wraps a group's publish in a producer span whose context travels in the headers.
    """

    def __init__(self, publisher: Publisher, max_in_flight: int = 4, max_events: int = 1000,
                 tracing=None) -> None:
        self.publisher = publisher
        self.max_in_flight = max_in_flight
        self.max_events = max_events
        self.tracing = tracing
        self._pending: list[tuple[list[dict], asyncio.Future, object]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    async def publish(self, events: list[dict]) -> None:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((events, future, self.tracing.capture() if self.tracing is not None else None))
        if self._in_flight < self.max_in_flight:
            self._launch()
        await future

    def _launch(self) -> None:
        group, size = [], 0
        while self._pending and (not group or size + len(self._pending[0][0]) <= self.max_events):
            item = self._pending.pop(0)
            group.append(item)
            size += len(item[0])
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._publish_group(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_group(self, group) -> None:
        events = [ev for evs, _, _ in group for ev in evs]
        error: BaseException | None = None
        span = None
        try:
            message = encode_batch(events, {"x-request-count": len(group)})
            if self.tracing is not None:
                span = self.tracing.start(message, [ctx for _, _, ctx in group], len(events))
            await self.publisher.publish(message)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting request
            error = exc
        finally:
            self._in_flight -= 1
            if span is not None:
                self.tracing.end(span, error)
        for _, future, _ in group:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            elif isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
        if self._pending and self._in_flight < self.max_in_flight:
            self._launch()
