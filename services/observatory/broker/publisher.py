"""Publish batches of validated events with publisher confirms.

A call returns only once RabbitMQ confirmed the message (persisted to the durable queue). Many
concurrent calls share one confirm-mode channel, so confirms are pipelined: requests do not wait
for each other's confirms. A nack (queue full: reject-publish), a timeout or a closed connection
raises PublishError, which ingest turns into 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

import aio_pika
import orjson
from aiormq.exceptions import DeliveryError
from aiormq.exceptions import PublishError as AmqpPublishError
from pamqp.commands import Basic

from observatory.broker.connection import BrokerLink
from observatory.broker.topology import ROUTING_KEY

CONTENT_TYPE = "application/vnd.observatory.events+json"
log = logging.getLogger("observatory.broker")


class PublishError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # bounded code: unavailable | nack | timeout | returned | overloaded | internal


def encode_batch(events: list[dict], headers: dict | None = None) -> aio_pika.Message:
    return encode_body(orjson.dumps(events), len(events), headers)


def encode_body(body: bytes, count: int, headers: dict | None = None) -> aio_pika.Message:
    """A message from an already encoded JSON array of `count` events."""
    return aio_pika.Message(
        body=body,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(uuid.uuid4()),
        timestamp=time.time(),
        headers={"x-event-count": count, **(headers or {})},
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
                exchange.publish(message, routing_key=ROUTING_KEY, mandatory=True), self.confirm_timeout_s
            )
        except TimeoutError as exc:
            raise PublishError("timeout", "message broker did not confirm in time") from exc
        except AmqpPublishError as exc:  # subclass of DeliveryError: unroutable (Basic.Return)
            raise PublishError("returned", "message broker could not route the message") from exc
        except DeliveryError as exc:
            self.link.renew()  # a queue that is full nacks on any channel; a stale channel recovers
            raise PublishError("nack", "message broker refused the message (queue full?)") from exc
        except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise PublishError("unavailable", f"message broker unavailable: {exc}") from exc
        if not isinstance(confirmation, Basic.Ack):
            self.link.renew()
            raise PublishError("nack", "message broker did not acknowledge the message")


@dataclass(eq=False)
class _Request:
    events: list[dict]
    body: bytes  # the events as a JSON array, encoded once on arrival
    future: asyncio.Future
    trace: object
    timer: asyncio.TimerHandle | None = None  # the deadline, cancelled once the request's group is sent


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(PublishError("timeout", "message broker did not confirm in time"))


class GroupPublisher:
    """Group commit on top of Publisher: concurrent requests' events share one AMQP message.

    At most `max_in_flight` messages await their confirms at once; requests that arrive meanwhile
    are gathered into the next message (up to `max_events` and `max_group_bytes`, never splitting a
    request, so a message stays under the broker's max_message_size). Each caller returns only when
    the message holding ITS events was confirmed, and gets the PublishError when it was not, so the
    202-after-confirm contract holds per request. Under light load a request is published at once
    (no added latency); under heavy load the broker and the client handle one message per group.

    Bounded: at most `max_waiting` requests and `max_waiting_bytes` of encoded events are held at
    once (queued or in flight); a request beyond either fails at once with reason `overloaded`
    (ingest answers 503 + Retry-After), so a stalled broker cannot grow ingest's memory. Each request
    has a deadline counted from its arrival (`deadline_s`) that applies until its group is sent: a
    request still queued then fails with `timeout` and its events are never published. Once its group
    is sent, the broker's answer decides (confirmed: success, even past the deadline; nack, return or
    no confirm within the publisher's confirm timeout: PublishError), so a request whose events were
    confirmed never fails. Any unexpected
    exception reaches the caller as PublishError("internal"): no waiter is ever left hanging.

    `tracing` (observatory.broker.tracing.PublishTracing, None when tracing is off) captures each caller's
    trace context and wraps a group's publish in a producer span whose context travels in the headers.
    """

    def __init__(
        self,
        publisher: Publisher,
        max_in_flight: int = 4,
        max_events: int = 1000,
        tracing=None,
        *,
        max_group_bytes: int = 4 * 1024 * 1024,
        max_waiting: int = 2000,
        max_waiting_bytes: int = 64 * 1024 * 1024,
        deadline_s: float = 5.0,
    ) -> None:
        self.publisher = publisher
        self.max_in_flight = max_in_flight
        self.max_events = max_events
        self.max_group_bytes = max_group_bytes
        self.max_waiting = max_waiting
        self.max_waiting_bytes = max_waiting_bytes
        self.deadline_s = deadline_s
        self.tracing = tracing
        self._pending: deque[_Request] = deque()
        self._in_flight = 0
        self.waiting = 0  # requests held (queued or in flight)
        self.waiting_bytes = 0  # their encoded size
        self._tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks
        self._loop: asyncio.AbstractEventLoop | None = None

    async def publish(self, events: list[dict]) -> None:
        try:
            body = orjson.dumps(events)
        except Exception as exc:  # noqa: BLE001 - validated events always encode; say so if not
            log.exception("events could not be encoded for the broker")
            raise PublishError("internal", f"events could not be encoded: {type(exc).__name__}") from exc
        if self.waiting >= self.max_waiting or self.waiting_bytes + len(body) > self.max_waiting_bytes:
            raise PublishError("overloaded", "too many requests wait for the message broker")
        loop = self._loop
        if loop is None or loop.is_closed():  # the loop is looked up once: on Python 3.11 each
            loop = self._loop = asyncio.get_running_loop()  # get_running_loop() is a getpid() system call
        request = _Request(
            events,
            body,
            loop.create_future(),
            self.tracing.capture() if self.tracing is not None else None,
        )
        self.waiting += 1
        self.waiting_bytes += len(body)
        # the deadline: one timer that fails this request's own future (cheaper than wait_for(shield()),
        # which schedules a task and a second future per request)
        timer = request.timer = loop.call_later(self.deadline_s, _expire, request.future)
        try:
            self._pending.append(request)
            if self._in_flight < self.max_in_flight:
                self._launch(loop)
            await request.future
        finally:
            timer.cancel()
            self.waiting -= 1
            self.waiting_bytes -= len(body)
            fut = request.future
            if not fut.done() or fut.cancelled() or fut.exception() is not None:  # never publish it later
                with contextlib.suppress(ValueError):
                    self._pending.remove(request)
                fut.cancel()

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        group: list[_Request] = []
        count = size = 0
        while self._pending:
            nxt = self._pending[0]
            if group and (count + len(nxt.events) > self.max_events or size + len(nxt.body) > self.max_group_bytes):
                break
            group.append(self._pending.popleft())
            if nxt.timer is not None:
                nxt.timer.cancel()  # sent: the broker's answer decides from here on
            count += len(nxt.events)
            size += len(nxt.body)
        if not group:
            return
        self._in_flight += 1
        task = loop.create_task(self._publish_group(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_group(self, group: list[_Request]) -> None:
        error: BaseException | None = None
        cancelled = False
        span = None
        try:
            count = sum(len(r.events) for r in group)
            body = b"[" + b",".join(r.body[1:-1] for r in group if len(r.body) > 2) + b"]"
            message = encode_body(body, count, {"x-request-count": len(group)})
            if self.tracing is not None:
                span = self.tracing.start(message, [r.trace for r in group], count)
            await self.publisher.publish(message)
        except PublishError as exc:
            error = exc
        except asyncio.CancelledError:
            cancelled = True
            error = PublishError("unavailable", "publishing was cancelled (shutting down)")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting request as a 503
            log.exception("unexpected error while publishing a group")
            error = PublishError("internal", f"unexpected publish error: {type(exc).__name__}")
            error.__cause__ = exc
        finally:
            self._in_flight -= 1
            if span is not None:
                self.tracing.end(span, error)
        for r in group:
            if r.future.done():
                continue
            if error is None:
                r.future.set_result(None)
            else:
                r.future.set_exception(error)
        if cancelled:
            raise asyncio.CancelledError
        while self._pending and self._in_flight < self.max_in_flight:
            self._launch(self._loop or asyncio.get_running_loop())
