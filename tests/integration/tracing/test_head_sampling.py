"""Root spans sampled in the middleware (tracing.start_root) exactly as the SDK's ratio sampler
would: same decision for the same trace id, the sampled span carries the drawn trace id and is
exported, an unsampled one is a valid non-recording context (logs and the publish path still see a
trace id with sampled=false), and the share sampled is the ratio."""

from __future__ import annotations

import random

import pytest
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.trace import SpanKind

from observatory import tracing
from observatory.settings import CommonSettings


@pytest.fixture
def at_ratio(otlp):
    tracing.shutdown()
    state = tracing.setup(
        CommonSettings(otlp_endpoint=otlp.url, trace_sample_ratio=0.25, env="test"), "test", export_delay_ms=50
    )
    yield state
    tracing.shutdown()


def test_root_spans_follow_the_sdks_ratio_rule_and_keep_the_drawn_trace_id(at_ratio, otlp, monkeypatch):
    tracer = at_ratio.tracer("ingest")
    sdk_rule = TraceIdRatioBased(0.25)
    rng = random.Random(11)
    drawn: list[int] = []

    def bits(n: int) -> int:
        value = rng.getrandbits(n)
        if n == 128:
            drawn.append(value)
        return value

    monkeypatch.setattr(tracing, "getrandbits", bits)
    spans = [tracing.start_root(tracer, "POST", SpanKind.SERVER) for _ in range(4000)]
    sampled, recorded = 0, set()
    for trace_id, span in zip(drawn, spans):
        ctx = span.get_span_context()
        assert ctx.is_valid and ctx.trace_id == trace_id
        expected = sdk_rule.should_sample(None, trace_id, "POST").decision == Decision.RECORD_AND_SAMPLE
        assert span.is_recording() == expected == ctx.trace_flags.sampled
        sampled += expected
        if expected:
            recorded.add(format(trace_id, "032x"))
        span.end()
    assert 0.22 < sampled / len(spans) < 0.28
    assert at_ratio.force_flush()
    exported = {s.trace_id for s in otlp.snapshot()}
    assert recorded and recorded <= exported
    # an id the SDK generates for anything else is random again, not the last one drawn here
    with tracer.start_as_current_span("other") as other:
        assert other.get_span_context().trace_id not in drawn
