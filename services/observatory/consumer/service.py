"""The consumer loop: prefetch-bounded batches, flushed at N rows, B bytes or after T ms.

Per batch, in this order: the rows go to ClickHouse in ONE insert, poison messages/events are
published to the dead-letter exchange (with confirms, `mandatory`: broker/deadletter.py), and only then
are the batch's messages acked: one multiple-ack, stopping short of any delivery that is neither stored
nor dead-lettered yet (faults.ack_plan; later ones singly). Every delivery is tracked until then.

Taking a message (decode, enrich) can fail in three ways: poison (the message or some event is not
an event: dead-lettered with its reason), an error specific to the message (any other exception:
dead-lettered, reason `consumer_error`, the error's class in `x-observatory-error-class`), or a fault
of the environment (faults.environmental: GeoIP database missing, OSError, ...): then the message and
every later one are HELD un-acked (gauge consumer_held_messages; the prefetch window bounds them, so
the broker sends no more), the consumer is not ready, and the held messages are taken again with
backoff until the fault clears (held.py). A lost channel drops them (the broker redelivers them).
A consumer task that dies (flusher, held-message retry) makes the consumer not ready.

Insert failures by kind (consumer/faults.py):
- transient (store unreachable, timeouts, server errors): the batch is kept, the consumer is not
  ready and retries with exponential backoff; nothing is acked until the rows are in;
- data error (ClickHouse refuses rows): the batch is bisected until each refused row stands alone,
  the rest is inserted, the refused rows are dead-lettered with ClickHouse's error in their headers
  (reason `rejected_by_store`), and the batch is acked.
A lost channel drops the un-acked batch (the broker redelivers it; a duplicate insert collapses on
event_id).

Long because the consumer's steps (take a delivery, batch, flush, isolate refused rows, dead-letter,
ack only what is settled) read best in order, in one class; the held messages (held.py), the queue
depth poll (queues.py) and the pure decisions (faults.py) live apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import TYPE_CHECKING

import aio_pika
from aiormq.exceptions import DeliveryError

from observatory import tracing
from observatory.broker.connection import BrokerLink
from observatory.broker.deadletter import dead_letter_message, publish_dead_letter
from observatory.consumer import faults
from observatory.consumer.decode import PoisonMessage, decode
from observatory.consumer.held import Held
from observatory.consumer.queues import poll_queues
from observatory.consumer.tracing import consumer_tracing
from observatory.metrics import ConsumerMetrics, observe_many
from observatory.settings import BrokerSettings, ConsumerSettings
from observatory.store.sink import ClickHouseSink, Item

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

log = logging.getLogger("observatory.consumer")


@dataclass
class Batch:
    rows: list[Item] = field(default_factory=list)
    poison: list[tuple[bytes, str, str, Mapping[str, object]]] = field(default_factory=list)  # + headers
    deliveries: list[aio_pika.abc.AbstractIncomingMessage] = field(default_factory=list)  # acked once settled
    messages: int = 0
    bytes: int = 0
    stored: bool = False  # rows inserted (only dead-lettering and the ack may remain)
    started: float = 0.0
    traces: list[tuple[int, SpanContext]] = field(
        default_factory=list
    )  # (first row, span context) of sampled messages (tracing on)

    def empty(self) -> bool:
        return self.messages == 0


class Consumer:
    name = "consumer"

    def __init__(
        self, broker: BrokerSettings, settings: ConsumerSettings, sink: ClickHouseSink, metrics: ConsumerMetrics
    ) -> None:
        self.broker_settings = broker
        self.settings = settings
        self.sink = sink
        self.metrics = metrics
        self.batch = Batch()
        self.link = BrokerLink(broker, "consumer", on_up=self._on_up, on_state=self._on_link_state)
        self._wake = asyncio.Event()
        self._stopping = False
        self._insert_failing = False
        self._consumer_tag: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._open: set[int] = set()  # delivery tags of this channel neither acked nor given up
        self._held = Held(
            self._take, self._update_ready, self._on_task_done, settings.retry_initial_s, settings.retry_max_s
        )
        self._dead_task: str | None = None  # a task of the consumer that died: not ready
        self.tracing = consumer_tracing(broker.queue)  # None when tracing is off

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.metrics.ready.set(0)
        await self.link.start(wait_s=10)
        queues = (self.broker_settings.queue, self.broker_settings.dead_letter_queue)
        self._tasks = [
            asyncio.create_task(self._flusher(), name="consumer-flusher"),
            asyncio.create_task(
                poll_queues(self.link, queues, self.metrics, self.settings.queue_poll_s, lambda: self._stopping),
                name="consumer-queue-poll",
            ),
        ]
        for task in self._tasks:
            task.add_done_callback(self._on_task_done)
        log.info(
            "consumer started",
            extra={
                "queue": self.broker_settings.queue,
                "batch_rows": self.settings.batch_rows,
                "flush_ms": self.settings.flush_ms,
                "prefetch": self.settings.prefetch,
            },
        )

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Stop consuming, flush what was received, ack it, disconnect."""
        self._stopping = True
        queue, tag = self.link.queue, self._consumer_tag
        if queue is not None and tag is not None and self.link.up.is_set():
            try:
                await asyncio.wait_for(queue.cancel(tag), 5)
            except Exception as exc:  # noqa: BLE001 - the connection may already be gone
                log.warning("consumer cancel failed: %s", exc)
        self._wake.set()
        flusher, poller = self._tasks
        poller.cancel()
        self._held.cancel()
        try:
            await asyncio.wait_for(asyncio.gather(flusher, poller, return_exceptions=True), timeout_s)
        except TimeoutError:
            log.error("final flush did not finish in time; un-acked messages will be redelivered")
            for t in self._tasks:
                t.cancel()
        await self.link.stop()
        self.metrics.ready.set(0)
        log.info("consumer stopped")

    def ready(self) -> bool:
        return self.link.up.is_set() and not self._insert_failing and not self._held and self._dead_task is None

    def _update_ready(self) -> None:
        self.metrics.ready.set(1 if self.ready() else 0)
        self.metrics.held_messages.set(len(self._held))

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """A consumer task (flusher, held-message retry, queue poll) that raised while the consumer runs
        is a defect: say so, and be not ready (nothing is acked any more; the readiness check sees it)."""
        if self._stopping or task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        self._dead_task = task.get_name()
        log.error("consumer task %s died; not ready", task.get_name(), exc_info=exc, extra={"task": task.get_name()})
        self._update_ready()

    # -- broker callbacks -----------------------------------------------------------------------
    async def _on_up(self, link: BrokerLink) -> None:
        self.batch = Batch()  # deliveries of a previous channel cannot be acked any more
        self._open = set()
        self._held.clear()  # (the broker redelivers them)
        assert link.channel is not None and link.queue is not None  # set before the link calls back
        await link.channel.set_qos(prefetch_count=self.settings.prefetch)
        self._consumer_tag = await link.queue.consume(self._on_message, no_ack=False)

    def _on_link_state(self, up: bool) -> None:
        self._update_ready()

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.metrics.messages_received.inc()
        self._open.add(message.delivery_tag or 0)
        if self._held:  # an environment fault holds every later message too, in order
            self._held.hold(message, None)
            return
        try:
            self._take(message)
        except Exception as exc:  # noqa: BLE001 - only environment faults leave _take
            self._held.hold(message, exc)

    def _take(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Decode one message into the batch (rows and poison); raises only for environment faults."""
        batch = self.batch
        if self.tracing is not None:
            span, first_row, first_poison = self.tracing.consume(message), len(batch.rows), len(batch.poison)
        try:
            decoded = decode(message.body, self.settings.store_client_ip)
        except PoisonMessage as exc:
            batch.poison.append((message.body, exc.reason, str(exc), dict(message.headers or {})))
        except Exception as exc:
            if self.tracing is not None:
                span.end()
            if faults.environmental(exc):
                raise
            log.exception("error taking a message; dead-lettering it", extra={"error_class": type(exc).__name__})
            headers = {**(message.headers or {}), "x-observatory-error-class": type(exc).__name__}
            batch.poison.append((message.body, "consumer_error", f"{type(exc).__name__}: {exc}", headers))
            self._add(batch, message)
            return
        else:
            batch.rows.extend(decoded.rows)
            headers = dict(message.headers or {})
            batch.poison.extend((body, reason, detail, headers) for body, reason, detail in decoded.poison)
        self._add(batch, message)
        if self.tracing is not None:
            self.tracing.consumed(span, batch, message, first_row, first_poison)

    def _add(self, batch: Batch, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        if batch.empty():
            batch.started = time.monotonic()
        batch.deliveries.append(message)
        batch.messages += 1
        batch.bytes += len(message.body)
        if self._full(batch) or batch.messages == 1:
            self._wake.set()

    def _full(self, batch: Batch) -> bool:
        return len(batch.rows) >= self.settings.batch_rows or batch.bytes >= self.settings.batch_bytes

    # -- flushing ---------------------------------------------------------------------------------
    async def _flusher(self) -> None:
        flush_s = self.settings.flush_ms / 1000
        while True:
            if self.batch.empty():
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            due = self.batch.started + flush_s - time.monotonic()
            if not self._full(self.batch) and due > 0 and not self._stopping:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), due)
                except TimeoutError:
                    pass
                continue
            batch, self.batch = self.batch, Batch()
            with self.tracing.batch_span(batch, self.sink.table) if self.tracing else contextlib.nullcontext():
                await self._flush(batch)

    async def _flush(self, batch: Batch) -> None:
        channel_of_batch = self.link.channel
        delay = self.settings.retry_initial_s
        while True:
            try:
                if batch.rows and not batch.stored:
                    await self._store(batch)
                await self._dead_letter(batch)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any sink/broker failure: keep the batch, retry
                tracing.record_exception(exc)
                if isinstance(exc, DeliveryError):  # dead-lettering nacked: maybe a stale channel (see renew)
                    self.link.renew()
                self.metrics.insert_errors.inc()
                self._set_failing(True)
                log.error(
                    "batch not stored, retrying: %s",
                    exc,
                    extra={"rows": len(batch.rows), "retry_in_s": round(delay, 2)},
                )
                if self.link.channel is not channel_of_batch:
                    log.warning("channel lost; the broker redelivers the batch", extra={"rows": len(batch.rows)})
                    return
                if self._stopping and delay > self.settings.retry_initial_s * 8:
                    log.warning(
                        "stopping with the batch not stored; the broker redelivers it", extra={"rows": len(batch.rows)}
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        self._set_failing(False)
        if batch.deliveries and self.link.channel is channel_of_batch:
            await self._ack(batch)

    async def _ack(self, batch: Batch) -> None:
        """Ack the batch's deliveries (all stored or dead-lettered) and no other one."""
        by_tag = {m.delivery_tag or 0: m for m in batch.deliveries}
        multiple, singles = faults.ack_plan(by_tag, self._open - by_tag.keys())
        try:
            if multiple is not None:
                await by_tag[multiple].ack(multiple=True)
            for tag in singles:
                await by_tag[tag].ack()
        except Exception as exc:  # noqa: BLE001 - channel closed after insert: redelivery, deduplicated
            log.warning("ack failed after insert (duplicates will collapse): %s", exc)
        self._open -= by_tag.keys()

    async def _store(self, batch: Batch) -> None:
        """Insert the batch's rows; rows ClickHouse refuses move to the batch's poison list."""
        started = time.perf_counter()

        async def insert(items: list[Item]) -> datetime:
            return await asyncio.to_thread(self.sink.insert, items)

        inserted_at, refused = await faults.insert_isolating(insert, batch.rows)
        if refused:
            ids = {id(item) for item, _ in refused}
            batch.rows = [row for row in batch.rows if id(row) not in ids]
            for item, exc in refused:  # counted as dead-lettered (DeadLetterQueueHigh), not as insert errors
                log.warning(
                    "row refused by ClickHouse; dead-lettering it",
                    extra={"code": exc.code, "error_name": exc.name, "error": str(exc)[:300]},
                )
                batch.poison.append(
                    (
                        faults.item_body(item),
                        "rejected_by_store",
                        str(exc),
                        {"x-clickhouse-code": exc.code, "x-clickhouse-error": exc.name},
                    )
                )
        batch.stored = True
        if batch.rows:
            assert inserted_at is not None  # the rows left went in: some insert returned
            self._observe_insert(batch, inserted_at, time.perf_counter() - started)

    async def _dead_letter(self, batch: Batch) -> None:
        """Publish the batch's poison to the dead-letter queue; raises unless each one is confirmed there."""
        while batch.poison:
            body, reason, detail, headers = batch.poison[0]
            await publish_dead_letter(self.link, dead_letter_message(body, reason, detail, headers))
            batch.poison.pop(0)
            self.metrics.dead_lettered.labels(reason=reason).inc()
            log.warning("message dead-lettered", extra={"reason": reason, "error": detail[:300]})

    def _observe_insert(self, batch: Batch, inserted_at: datetime, seconds: float) -> None:
        m = self.metrics
        m.batch_rows.observe(len(batch.rows))
        m.insert_duration.observe(seconds, tracing.exemplar())
        m.rows_inserted.inc(len(batch.rows))
        m.last_insert.set(inserted_at.timestamp())
        if not batch.traces:
            runs = groupby(batch.rows, attrgetter("received_at"))  # a request's events share their receive time
            observe_many(m.e2e_latency, ((received, sum(1 for _ in run)) for received, run in runs), inserted_at)
        else:  # tracing on: the first row of each sampled message carries its trace as exemplar
            exemplars = self.tracing.row_exemplars(batch)  # type: ignore[union-attr]  # the else of `if self.tracing is None`
            for i, row in enumerate(batch.rows):
                m.e2e_latency.observe(max(0.0, (inserted_at - row.received_at).total_seconds()), exemplars.get(i))

    def _set_failing(self, failing: bool) -> None:
        self._insert_failing = failing
        self._update_ready()
