"""Tracing of the publish path: a `publish <exchange>` producer span per AMQP message of a group,
its context carried in the message headers (observatory.tracing has the setup and shared helpers)."""

from __future__ import annotations

from observatory import tracing


def _span_contexts(contexts) -> tuple[object, list]:
    """(parent context, links) for a span that serves several callers: the first sampled caller is
    the parent (the first caller when none is sampled), the other sampled callers become links."""
    from opentelemetry import trace

    parent, first, links = None, None, []
    for ctx in contexts:
        if ctx is None:
            continue
        sc = trace.get_current_span(ctx).get_span_context()
        if not sc.is_valid:
            continue
        if first is None:
            first = ctx
        if sc.trace_flags.sampled:
            if parent is None:
                parent = ctx
            else:
                links.append(trace.Link(sc))
    return (parent or first or tracing.empty_context()), links


class PublishTracing:
    """Given to GroupPublisher: `capture()` runs in each request's task, `start()`/`end()` around the
    publish of a group's AMQP message."""

    def __init__(self, tracer, exchange: str, routing_key: str) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        self.tracer = tracer
        self.capture = otel_context.get_current
        self._set_span = trace.set_span_in_context
        self._producer = trace.SpanKind.PRODUCER
        self._propagator = tracing.propagator()
        self.exchange, self.routing_key = exchange, routing_key

    def start(self, message, contexts: list, n_events: int):
        parent, links = _span_contexts(contexts)
        span = self.tracer.start_span(f"publish {self.exchange}", context=parent, kind=self._producer, links=links)
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "publish",
                    "messaging.destination.name": self.exchange,
                    "messaging.rabbitmq.destination.routing_key": self.routing_key,
                    "messaging.message.id": message.message_id or "",
                    "messaging.batch.message_count": n_events,
                    "observatory.group.requests": len(contexts),
                }
            )
        self._propagator.inject(message.headers, context=self._set_span(span))
        return span

    def end(self, span, error: BaseException | None) -> None:
        if error is not None and span.is_recording():
            tracing.fail(span, error)
        span.end()


def publish_tracing(exchange: str, routing_key: str) -> PublishTracing | None:
    tracer = tracing.tracer("ingest")
    return PublishTracing(tracer, exchange, routing_key) if tracer is not None else None
