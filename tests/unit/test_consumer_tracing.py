"""The consumer's `process` span continues the publisher's trace from the AMQP headers
(consumer/tracing.py); a header that is not text is no parent (it used to raise TypeError inside the
propagator, failing the message's handler)."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.sdk.trace import TracerProvider

from observatory.consumer.tracing import ConsumerTracing

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@dataclass
class Message:
    headers: dict[str, object] = field(default_factory=dict)


def process_span(headers: dict[str, object]):
    tracing = ConsumerTracing(TracerProvider().get_tracer("test"), "events")
    return tracing.consume(Message(headers))  # the headers are all it reads of the message


def test_the_publisher_s_trace_continues_from_a_text_or_bytes_header():
    for value in (PARENT, PARENT.encode("latin-1")):
        span = process_span({"traceparent": value})
        assert span.parent is not None and format(span.parent.trace_id, "032x") == TRACE_ID
        assert format(span.get_span_context().trace_id, "032x") == TRACE_ID


def test_a_header_that_is_not_text_starts_a_new_trace():
    for value in (5, 1.5, True, ["x"]):
        span = process_span({"traceparent": value})
        assert span.parent is None
        assert format(span.get_span_context().trace_id, "032x") != TRACE_ID
