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

import contextlib
import logging
import os
import re
import socket
import time
from collections.abc import Sequence

from observatory import __version__

log = logging.getLogger("observatory.tracing")

HEALTH_PATHS = ("/metrics", "/health/live", "/health/ready")
MAX_LINKS = 4096  # a batch links every sampled message it carries (prefetch is 2,000 by default)
_QUERY_TEXT_MAX = 2000
_SQL_OP = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(\w+)", re.DOTALL)

_state: Tracing | None = None
# bound by setup() so that the helpers below cost one global lookup when tracing is off
_get_current_span = None


def traces_url(endpoint: str) -> str:
    """OBS_OTLP_ENDPOINT is the OTLP/HTTP base URL (http://jaeger:4318); traces go to /v1/traces."""
    url = endpoint.rstrip("/")
    return url if url.endswith("/v1/traces") else url + "/v1/traces"


class Tracing:
    """The process's providers (one per component), built lazily on first use."""

    def __init__(self, endpoint: str, ratio: float, environment: str, process: str,
                 export_delay_ms: float | None = None) -> None:
        self.url = traces_url(endpoint)
        self.ratio = ratio
        self.environment = environment
        self.process = process
        self.export_delay_ms = export_delay_ms
        self._providers: dict = {}

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

        resource = Resource.create({
            "service.name": component, "service.namespace": "observatory", "service.version": __version__,
            "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
            "deployment.environment.name": self.environment, "observatory.process": self.process})
        provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(self.ratio)),
                                  span_limits=SpanLimits(max_links=MAX_LINKS))
        exporter = RedactingExporter(OTLPSpanExporter(endpoint=self.url, timeout=10))
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=self.export_delay_ms))
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
        _fail(span, exc)


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


def _fail(span, exc: BaseException, status_description: str | None = None) -> None:
    from opentelemetry.trace import Status, StatusCode
    span.record_exception(exc)
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR, status_description or f"{type(exc).__name__}: {exc}"))


# -- exporter --------------------------------------------------------------------------------------
class RedactingExporter:
    """Wraps the OTLP exporter: every span is copied with personal data masked (observatory.redact)
    before it leaves the process. Runs on the batch processor's thread, not on request paths."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def export(self, spans: Sequence):
        from observatory.redact import current
        redactor = current()
        return self.inner.export([redact_span(s, redactor) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _masked(a, redactor) -> dict | None:
    """The attributes with personal data masked, or None when nothing had to change (the usual case:
    the redactor returns the very same objects then, so no copy is made)."""
    if not a:
        return None
    out, changed = {}, False
    for k, v in a.items():
        out[k] = m = redactor.attribute(k, v)
        changed = changed or m is not v and m != v
    return out if changed else None


def redact_span(span, redactor):
    """The span itself when it holds nothing to mask, else a masked copy."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, Status

    name = redactor.text(span.name)
    attributes = _masked(span.attributes, redactor)
    events = [_masked(e.attributes, redactor) for e in span.events]
    links = [_masked(link.attributes, redactor) for link in span.links]
    status = span.status
    description = redactor.text(status.description) if status.description else status.description
    if name is span.name and attributes is None and description is status.description \
            and not any(x is not None for x in events) and not any(x is not None for x in links):
        return span
    return ReadableSpan(
        name=name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes, kind=span.kind,
        status=Status(status.status_code, description) if description is not status.description else status,
        events=[Event(e.name, m if m is not None else e.attributes, e.timestamp) for e, m in zip(span.events, events)],
        links=[Link(link.context, m if m is not None else link.attributes) for link, m in zip(span.links, links)],
        start_time=span.start_time, end_time=span.end_time, instrumentation_scope=span.instrumentation_scope)


# -- HTTP ----------------------------------------------------------------------------------------
def _propagator():
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )
    return TraceContextTextMapPropagator()


class TracingMiddleware:
    """Server span per HTTP request (health and metrics paths excepted), continuing an incoming W3C
    `traceparent`. Named `<METHOD> <route template>`; 5xx and exceptions are errors, the exception
    recorded. Outermost in the app, so that the request id, metrics and access-log middlewares and
    the raw events endpoint all run inside the span."""

    def __init__(self, app, tracer, skip: tuple[str, ...] = HEALTH_PATHS) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        self.app = app
        self.tracer = tracer
        self.skip = skip
        self._propagator = _propagator()
        self._attach, self._detach = otel_context.attach, otel_context.detach
        self._set_span = trace.set_span_in_context
        self._server = trace.SpanKind.SERVER

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.skip:
            return await self.app(scope, receive, send)
        carrier = {}
        for name, value in scope["headers"]:
            if name == b"traceparent" or name == b"tracestate":
                carrier[name.decode()] = value.decode("latin-1")
        parent = self._propagator.extract(carrier) if carrier else None
        method = scope["method"]
        span = self.tracer.start_span(method, context=parent or _empty_context(), kind=self._server)
        token = self._attach(self._set_span(span, parent))
        if not span.is_recording():  # not sampled: the context still flows (publish, logs), no bookkeeping
            try:
                return await self.app(scope, receive, send)
            finally:
                span.end()
                self._detach(token)
        status = {"code": None}

        async def send_traced(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_traced)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._finish(span, scope, method, status["code"], error)
            self._detach(token)

    def _finish(self, span, scope, method: str, code: int | None, error: BaseException | None) -> None:
        from opentelemetry.trace import Status, StatusCode
        route = getattr(scope.get("route"), "path", None)
        if route:
            span.update_name(f"{method} {route}")
        server = scope.get("server") or (None, None)
        attributes = {"http.request.method": method, "url.path": scope["path"],
                      "url.scheme": scope.get("scheme", "http"),
                      "network.protocol.version": scope.get("http_version", "1.1")}
        if route:
            attributes["http.route"] = route
        if server[0]:
            attributes["server.address"], attributes["server.port"] = server[0], server[1]
        rid = (scope.get("state") or {}).get("request_id")
        if rid:
            attributes["observatory.request_id"] = rid
        if code is not None:
            attributes["http.response.status_code"] = code
        span.set_attributes(attributes)
        if error is not None:
            _fail(span, error)
        elif code is None or code >= 500:
            span.set_attribute("error.type", str(code or 500))
            span.set_status(Status(StatusCode.ERROR, f"HTTP {code or 500}"))
        span.end()


def _empty_context():
    from opentelemetry.context import Context
    return Context()


def instrument_app(app, component: str) -> bool:
    """Add the tracing middleware (outermost: call after every other add_middleware) when tracing is
    on. Returns whether it was added; when off the app is left untouched."""
    if _state is None:
        return False
    app.add_middleware(TracingMiddleware, tracer=_state.tracer(component))
    return True


# -- AMQP: publish (ingest) --------------------------------------------------------------------------
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
    return (parent or first or _empty_context()), links


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
        self._propagator = _propagator()
        self.exchange, self.routing_key = exchange, routing_key

    def start(self, message, contexts: list, n_events: int):
        parent, links = _span_contexts(contexts)
        span = self.tracer.start_span(f"publish {self.exchange}", context=parent, kind=self._producer, links=links)
        if span.is_recording():
            span.set_attributes({
                "messaging.system": "rabbitmq", "messaging.operation.type": "send",
                "messaging.operation.name": "publish", "messaging.destination.name": self.exchange,
                "messaging.rabbitmq.destination.routing_key": self.routing_key,
                "messaging.message.id": message.message_id or "", "messaging.batch.message_count": n_events,
                "observatory.group.requests": len(contexts)})
        self._propagator.inject(message.headers, context=self._set_span(span))
        return span

    def end(self, span, error: BaseException | None) -> None:
        if error is not None and span.is_recording():
            _fail(span, error)
        span.end()


def publish_tracing(exchange: str, routing_key: str) -> PublishTracing | None:
    return PublishTracing(_state.tracer("ingest"), exchange, routing_key) if _state is not None else None


# -- AMQP: consume and insert (consumer) ---------------------------------------------------------------
def _header_get(carrier, key: str):
    value = carrier.get(key)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return [value]


class _Getter:
    get = staticmethod(_header_get)

    @staticmethod
    def keys(carrier):
        return list(carrier)


class ConsumerTracing:
    """Used by consumer.service.Consumer: a `process <queue>` span per message, and the batch span."""

    def __init__(self, tracer, queue: str) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        self.tracer = tracer
        self.queue = queue
        self._propagator = _propagator()
        self._getter = _Getter()
        self._trace = trace
        self._attach, self._detach = otel_context.attach, otel_context.detach
        self._consumer = trace.SpanKind.CONSUMER

    def consume(self, message):
        headers = message.headers
        parent = self._propagator.extract(headers, getter=self._getter) if headers else _empty_context()
        return self.tracer.start_span(f"process {self.queue}", context=parent, kind=self._consumer)

    def consumed(self, span, batch, message, first_row: int, first_poison: int) -> None:
        """End the message's span; a sampled message is remembered for the batch span's links."""
        if span.is_recording():
            rows, poison = len(batch.rows) - first_row, len(batch.poison) - first_poison
            span.set_attributes({
                "messaging.system": "rabbitmq", "messaging.operation.type": "process",
                "messaging.operation.name": "consume", "messaging.destination.name": self.queue,
                "messaging.message.id": message.message_id or "",
                "messaging.rabbitmq.message.delivery_tag": message.delivery_tag or 0,
                "observatory.rows": rows, "observatory.poison": poison})
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
    def batch_span(self, batch, table: str):
        """Current for the whole flush (dead-lettering, insert attempts, ack), so the consumer's log lines
        about the batch carry its trace; failed attempts are recorded on it as exceptions."""
        trace = self._trace
        parent = trace.set_span_in_context(trace.NonRecordingSpan(batch.traces[0][1])) if batch.traces \
            else _empty_context()
        links = [trace.Link(sc) for _, sc in batch.traces]
        database, _, name = table.rpartition(".")
        span = self.tracer.start_span(f"INSERT {table}", context=parent, kind=trace.SpanKind.CLIENT, links=links)
        if span.is_recording():
            span.set_attributes({
                "db.system.name": "clickhouse", "db.operation.name": "INSERT", "db.namespace": database,
                "db.collection.name": name, "messaging.batch.message_count": batch.messages,
                "observatory.rows": len(batch.rows), "observatory.poison": len(batch.poison)})
        token = self._attach(trace.set_span_in_context(span))
        try:
            yield span
        except BaseException as exc:
            if span.is_recording():
                _fail(span, exc)
            raise
        finally:
            self._detach(token)
            span.end()

    def row_exemplars(self, batch) -> dict[int, dict]:
        """{row index: exemplar} for the first row of each sampled message of the batch."""
        return {first: {"trace_id": format(sc.trace_id, "032x")} for first, sc in batch.traces}


def consumer_tracing(queue: str) -> ConsumerTracing | None:
    return ConsumerTracing(_state.tracer("consumer"), queue) if _state is not None else None


# -- ClickHouse client spans (forecaster) --------------------------------------------------------------
class TracedClickHouse:
    """A clickhouse-connect client whose query/command/insert calls are client spans; everything else
    is passed through. Query text is recorded (the analytics SQL binds values server-side)."""

    _TRACED = ("query", "command", "insert", "query_df", "query_np", "query_arrow", "raw_query")

    def __init__(self, client, tracer, database: str) -> None:
        self._client = client
        self._tracer = tracer
        self._database = database

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in self._TRACED:
            return attr

        def traced(*args, **kwargs):
            from opentelemetry.trace import SpanKind
            first = args[0] if args else kwargs.get("query") or kwargs.get("cmd") or kwargs.get("table") or ""
            op = "INSERT" if name == "insert" else sql_operation(str(first))
            with self._tracer.start_as_current_span(f"{op} {self._database}", kind=SpanKind.CLIENT,
                                                    record_exception=False, set_status_on_exception=False) as span:
                if span.is_recording():
                    span.set_attributes({"db.system.name": "clickhouse", "db.namespace": self._database,
                                         "db.operation.name": op})
                    if name == "insert":
                        span.set_attribute("db.collection.name", str(first))
                    else:
                        span.set_attribute("db.query.text", str(first)[:_QUERY_TEXT_MAX])
                try:
                    result = attr(*args, **kwargs)
                except Exception as exc:
                    if span.is_recording():
                        _fail(span, exc)
                    raise
                rows = getattr(result, "row_count", None)
                if isinstance(rows, int) and span.is_recording():
                    span.set_attribute("db.response.returned_rows", rows)
                return result

        return traced


def sql_operation(sql: str) -> str:
    """SELECT, INSERT, ... of a statement (leading comments skipped; WITH ... counts as SELECT)."""
    m = _SQL_OP.match(sql)
    op = m.group(1).upper() if m else "QUERY"
    return "SELECT" if op == "WITH" else op


def traced_clickhouse(client, database: str, component: str = "forecaster"):
    """The client itself when tracing is off, else a TracedClickHouse around it."""
    if _state is None:
        return client
    return TracedClickHouse(client, _state.tracer(component), database)
