"""Tracing of the consumer: a `process <queue>` span per message (continuing the publisher's context
from the headers) and an `INSERT <table>` span per batch linking every sampled message it carries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Protocol, cast

from observatory import tracing
from observatory.store.sink import Item

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.trace import Span, SpanContext, Tracer

Headers = Mapping[str, object]  # an AMQP message's headers table


def _header_get(carrier: Headers, key: str) -> list[str] | None:
    value = carrier.get(key)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return [value] if isinstance(value, str) else None  # absent, or not text: no parent


class _Getter:
    get = staticmethod(_header_get)

    @staticmethod
    def keys(carrier: Headers) -> list[str]:
        return list(carrier)


class TracedBatch(Protocol):
    """What the tracing reads of the consumer's batch (consumer.service.Batch) and adds to it."""

    rows: list[Item]
    poison: list[tuple[bytes, str, str, Headers]]
    traces: list[tuple[int, SpanContext]]
    messages: int


class ConsumerTracing:
    """Used by consumer.service.Consumer: a `process <queue>` span per message, and the batch span."""

    def __init__(self, tracer: Tracer, queue: str) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        self.tracer = tracer
        self.queue = queue
        self._propagator = tracing.propagator()
        # a Getter by duck typing: subclassing it would import opentelemetry, which is optional
        self._getter = cast("Getter[Headers]", _Getter())
        self._trace = trace
        self._attach, self._detach = otel_context.attach, otel_context.detach
        self._consumer = trace.SpanKind.CONSUMER

    def consume(self, message: AbstractIncomingMessage) -> Span:
        headers = message.headers
        parent = self._propagator.extract(headers, getter=self._getter) if headers else tracing.empty_context()
        return self.tracer.start_span(f"process {self.queue}", context=parent, kind=self._consumer)

    def consumed(
        self, span: Span, batch: TracedBatch, message: AbstractIncomingMessage, first_row: int, first_poison: int
    ) -> None:
        """End the message's span; a sampled message is remembered for the batch span's links."""
        if span.is_recording():
            rows, poison = len(batch.rows) - first_row, len(batch.poison) - first_poison
            span.set_attributes(
                {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "process",
                    "messaging.operation.name": "consume",
                    "messaging.destination.name": self.queue,
                    "messaging.message.id": message.message_id or "",
                    "messaging.rabbitmq.message.delivery_tag": message.delivery_tag or 0,
                    "observatory.rows": rows,
                    "observatory.poison": poison,
                }
            )
            if poison and not rows:
                from opentelemetry.trace import Status, StatusCode

                reason = batch.poison[-1][1]
                span.set_attribute("error.type", reason)
                span.set_status(Status(StatusCode.ERROR, f"message dead-lettered: {reason}"))
        sc = span.get_span_context()
        if sc.trace_flags.sampled:
            batch.traces.append((first_row, sc))
        span.end()

    @contextlib.contextmanager
    def batch_span(self, batch: TracedBatch, table: str) -> Iterator[Span]:
        """Current for the whole flush (dead-lettering, insert attempts, ack), so the consumer's log lines
        about the batch carry its trace; failed attempts are recorded on it as exceptions."""
        trace = self._trace
        parent = (
            trace.set_span_in_context(trace.NonRecordingSpan(batch.traces[0][1]))
            if batch.traces
            else tracing.empty_context()
        )
        links = [trace.Link(sc) for _, sc in batch.traces]
        database, _, name = table.rpartition(".")
        span = self.tracer.start_span(f"INSERT {table}", context=parent, kind=trace.SpanKind.CLIENT, links=links)
        if span.is_recording():
            span.set_attributes(
                {
                    "db.system.name": "clickhouse",
                    "db.operation.name": "INSERT",
                    "db.namespace": database,
                    "db.collection.name": name,
                    "messaging.batch.message_count": batch.messages,
                    "observatory.rows": len(batch.rows),
                    "observatory.poison": len(batch.poison),
                }
            )
        token = self._attach(trace.set_span_in_context(span))
        try:
            yield span
        except BaseException as exc:
            if span.is_recording():
                tracing.fail(span, exc)
            raise
        finally:
            self._detach(token)
            span.end()

    def row_exemplars(self, batch: TracedBatch) -> dict[int, dict[str, str]]:
        """{row index: exemplar} for the first row of each sampled message of the batch."""
        return {first: {"trace_id": format(sc.trace_id, "032x")} for first, sc in batch.traces}


def consumer_tracing(queue: str) -> ConsumerTracing | None:
    tracer = tracing.tracer("consumer")
    return ConsumerTracing(tracer, queue) if tracer is not None else None
