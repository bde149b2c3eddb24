"""OpenTelemetry tracing: one trace from the HTTP request, through RabbitMQ, to the ClickHouse insert.

Off unless OBS_OTLP_ENDPOINT is set: then nothing is imported from OpenTelemetry, no middleware is
installed, no header is written or read, and every helper here returns at once.

When on (`setup()`, called by the CLI's boot path; tests call it in-process and `shutdown()` after):
  - one TracerProvider per component (ingest, consumer, forecaster) so that Jaeger shows each under
    its own service name even when they share a process (all-in-one); resource attributes
    service.name, service.namespace, service.version, service.instance.id, deployment.environment.name;
  - parent-based ratio sampling (OBS_TRACE_SAMPLE_RATIO): a request that arrives with a sampled W3C
    `traceparent` is traced whatever the ratio, a request without one at the ratio;
  - BatchSpanProcessor -> redaction (observatory.redact) -> OTLP/HTTP exporter at <endpoint>/v1/traces.
The instrumentation lives beside what it instruments and uses the helpers at the end of this module:
observatory.middleware (HTTP server spans), broker/tracing.py (publish), consumer/tracing.py (consume
and insert), store/tracing.py (ClickHouse client spans).
Spans:
  HTTP server span (TracingMiddleware, outermost ASGI middleware, covers the raw events endpoint and
  the framework routes) -> `publish <exchange>` producer span per AMQP message (GroupPublisher: child
  of the first sampled request of the group, links to the other sampled requests; its context goes
  into the message headers as `traceparent`/`tracestate`) -> `process <queue>` consumer span per
  message (child of the extracted context) -> `INSERT <db>.events` span per batch (child of the first
  sampled message of the batch, links to every sampled message it carries). The forecaster's
  ClickHouse calls get client spans (`traced_clickhouse`).
Logs: every line written while a span is current carries trace_id, span_id and trace_sampled.
Metrics: `exemplar()` gives {"trace_id": ...} for histogram observations made inside a sampled span.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from random import getrandbits
from typing import TYPE_CHECKING, cast

from observatory import __version__

if TYPE_CHECKING:  # opentelemetry is optional (the `tracing` extra): imported where used
    from collections.abc import Callable

    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger("observatory.tracing")

MAX_LINKS = 4096  # a batch links every sampled message it carries (prefetch is 2,000 by default)

_state: Tracing | None = None
# bound by setup() so that the helpers below cost one global lookup when tracing is off
_get_current_span: Callable[[], Span] = None  # type: ignore[assignment]  # never called before setup() binds it


def traces_url(endpoint: str) -> str:
    """OBS_OTLP_ENDPOINT is the OTLP/HTTP base URL (http://jaeger:4318); traces go to /v1/traces."""
    url = endpoint.rstrip("/")
    return url if url.endswith("/v1/traces") else url + "/v1/traces"


class Tracing:
    """The process's providers (one per component), built lazily on first use."""

    def __init__(
        self, endpoint: str, ratio: float, environment: str, process: str, export_delay_ms: float | None = None
    ) -> None:
        from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        self.url = traces_url(endpoint)
        self.ratio = ratio
        self.environment = environment
        self.process = process
        self.export_delay_ms = export_delay_ms
        self._providers: dict = {}
        not_sampled = TraceFlags(TraceFlags.DEFAULT)

        def unsampled(trace_id: int, span_id: int) -> Span:
            return NonRecordingSpan(SpanContext(trace_id, span_id, False, not_sampled))

        self.unsampled = unsampled  # start_root's span for a request that is not sampled
        self.ids = _preset_ids()  # every provider's: start_root() hands it the trace id it drew
        self.bound = TraceIdRatioBased.get_bound_for_rate(ratio)
        self.limit = TraceIdRatioBased.TRACE_ID_LIMIT

    def provider(self, component: str):
        provider = self._providers.get(component)
        if provider is None:
            provider = self._providers[component] = self._build(component)
        return provider

    def tracer(self, component: str):
        return self.provider(component).get_tracer(f"observatory.{component}", __version__)

    def _build(self, component: str):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import SpanLimits, TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        from observatory.redact import RedactingExporter

        resource = Resource.create(
            {
                "service.name": component,
                "service.namespace": "observatory",
                "service.version": __version__,
                "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
                "deployment.environment.name": self.environment,
                "observatory.process": self.process,
            }
        )
        provider = TracerProvider(
            resource=resource,
            sampler=ParentBased(TraceIdRatioBased(self.ratio)),
            span_limits=SpanLimits(max_links=MAX_LINKS),
            id_generator=self.ids,
        )
        exporter = RedactingExporter(OTLPSpanExporter(endpoint=self.url, timeout=10))  # observatory.redact
        provider.add_span_processor(
            BatchSpanProcessor(cast("SpanExporter", exporter), schedule_delay_millis=self.export_delay_ms)
        )
        return provider

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        return all(p.force_flush(int(timeout_s * 1000)) for p in list(self._providers.values()))

    def shutdown(self) -> None:
        for p in list(self._providers.values()):
            p.shutdown()
        self._providers.clear()


def setup(common, process: str, *, export_delay_ms: float | None = None) -> Tracing | None:
    """Turn tracing on for this process when `common.otlp_endpoint` is set; idempotent.

    `common` is a CommonSettings. `export_delay_ms` overrides the batch processor's schedule
    (default OTEL_BSP_SCHEDULE_DELAY or 5 s); tests pass a short one or call force_flush()."""
    global _state, _get_current_span
    if not common.otlp_endpoint:
        return None
    if _state is not None:
        return _state
    from opentelemetry.trace import get_current_span

    from observatory.logging import add_enricher

    _get_current_span = get_current_span
    _state = Tracing(common.otlp_endpoint, common.trace_sample_ratio, common.env, process, export_delay_ms)
    add_enricher(_log_hook)
    log.info("tracing on", extra={"otlp": _state.url, "sample_ratio": common.trace_sample_ratio})
    return _state


def current() -> Tracing | None:
    return _state


def shutdown() -> None:
    """Flush and stop every provider, and turn tracing off (tests set it up again as they need)."""
    global _state
    state, _state = _state, None
    if state is not None:
        state.shutdown()


# -- helpers that cost nothing when tracing is off ------------------------------------------------
def _log_hook(doc: dict) -> None:
    if _state is None:
        return
    ctx = _get_current_span().get_span_context()
    if ctx.is_valid:
        doc["trace_id"] = format(ctx.trace_id, "032x")
        doc["span_id"] = format(ctx.span_id, "016x")
        doc["trace_sampled"] = ctx.trace_flags.sampled


def exemplar() -> dict | None:
    """An exemplar for a histogram observation made inside a sampled span (else None)."""
    if _state is None:
        return None
    ctx = _get_current_span().get_span_context()
    if ctx.trace_flags.sampled:
        return {"trace_id": format(ctx.trace_id, "032x")}
    return None


def record_exception(exc: BaseException) -> None:
    """Record a handled exception on the current span and mark it as an error."""
    if _state is None:
        return
    span = _get_current_span()
    if span.is_recording():
        fail(span, exc)


class timed:
    """`with timed(histogram):` observes the block's duration with the current trace as exemplar."""

    __slots__ = ("histogram", "started")

    def __init__(self, histogram) -> None:
        self.histogram = histogram

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.histogram.observe(time.perf_counter() - self.started, exemplar())


def fail(span: Span, exc: BaseException, status_description: str | None = None) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(exc)
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR, status_description or f"{type(exc).__name__}: {exc}"))


# -- shared by the per-service instrumentation (broker/, consumer/, store/, middleware) ----------------
def tracer(component: str) -> Tracer | None:
    """The component's tracer, or None when tracing is off (the instrumentation then installs nothing)."""
    return _state.tracer(component) if _state is not None else None


def propagator() -> TraceContextTextMapPropagator:
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    return TraceContextTextMapPropagator()


def empty_context() -> Context:
    global _empty
    if _empty is None:
        from opentelemetry.context import Context

        _empty = Context()  # immutable: one for every root span
    return _empty


_empty: Context | None = None


def start_root(tracer: Tracer, name: str, kind) -> Span:
    """A span without a parent (a request that brought no `traceparent`), sampled exactly as the
    SDK's TraceIdRatioBased sampler would (trace id & limit < bound), but decided here first: a
    request that is not sampled (90% at the usual ratio) gets its non-recording span without the
    SDK's sampler, id generator and SamplingResult (about 4 us less per request, measured); a
    sampled one is started by the SDK with the very trace id drawn here (`_preset_ids`)."""
    state = _state
    assert state is not None  # only instrumented code calls this, and only when tracing is on
    trace_id = getrandbits(128) or 1
    if trace_id & state.limit >= state.bound:
        return state.unsampled(trace_id, getrandbits(64) or 1)
    state.ids.preset(trace_id)
    return tracer.start_span(name, context=empty_context(), kind=kind)


def _preset_ids():
    """The SDK's random id generator, except that the next trace id generated in this thread can
    be set beforehand (start_root)."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class PresetIds(RandomIdGenerator):
        def __init__(self) -> None:
            self._next = threading.local()

        def preset(self, trace_id: int) -> None:
            self._next.trace_id = trace_id

        def generate_trace_id(self) -> int:
            trace_id = getattr(self._next, "trace_id", None)
            if trace_id is None:
                return super().generate_trace_id()
            self._next.trace_id = None
            return int(trace_id)

    return PresetIds()
