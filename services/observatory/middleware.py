"""ASGI middleware shared by the HTTP services: request ids, RED metrics and tracing (server spans).

Route labels are the matched route templates (`/v1/forecast/{metric}`), never raw paths, so a
scanner hitting random URLs cannot blow up the series count (all of those count as `unmatched`).
"""

from __future__ import annotations

import re
import time
from random import getrandbits

from prometheus_client import Counter, Histogram
from starlette.types import Message, Receive, Scope, Send

from observatory import tracing
from observatory.logging import request_id_var
from observatory.tracing import exemplar

HEALTH_PATHS = ("/metrics", "/health/live", "/health/ready")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Accept a sane `X-Request-ID` or make one; expose it to logs and return it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                rid = candidate if _SAFE_ID.match(candidate) else None
                break
        rid = rid or f"{getrandbits(128):032x}"  # as uuid4().hex looks; a request id is no secret, so
        # Python's own generator (reseeded in each forked process) instead of os.urandom's system call
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        raw = rid.encode()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", raw)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class MetricsMiddleware:
    def __init__(self, app, requests: Counter, duration: Histogram, skip: tuple[str, ...] = ("/metrics",)) -> None:
        self.app = app
        self.requests = requests
        self.duration = duration
        self.skip = skip
        self._children: dict[tuple[str, str, int], tuple] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_capture(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (template, method, status["code"])
            children = self._children.get(key)
            if children is None:  # label lookups cost microseconds: each series' children kept (bounded
                # by routes x methods x codes, as the series themselves are)
                children = self._children[key] = (
                    self.requests.labels(route=template, method=method, code=str(status["code"])),
                    self.duration.labels(route=template, method=method),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started, exemplar())


_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}


# -- tracing: a server span per request ----------------------------------------------------------------------------------------
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
        self._propagator = tracing.propagator()
        self._attach, self._detach = otel_context.attach, otel_context.detach
        self._set_span = trace.set_span_in_context
        self._server = trace.SpanKind.SERVER

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            return await self.app(scope, receive, send)
        carrier = {}
        for name, value in scope["headers"]:
            if name == b"traceparent" or name == b"tracestate":
                carrier[name.decode()] = value.decode("latin-1")
        parent = self._propagator.extract(carrier) if carrier else None
        method = scope["method"]
        if parent is None:
            span = tracing.start_root(self.tracer, method, self._server)
        else:
            span = self.tracer.start_span(method, context=parent, kind=self._server)
        token = self._attach(self._set_span(span, parent))
        if not span.is_recording():  # not sampled: the context still flows (publish, logs), no bookkeeping
            try:
                return await self.app(scope, receive, send)
            finally:
                span.end()
                self._detach(token)
        status = {"code": None}

        async def send_traced(message: Message) -> None:
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
        attributes = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
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
            tracing.fail(span, error)
        elif code is None or code >= 500:
            span.set_attribute("error.type", str(code or 500))
            span.set_status(Status(StatusCode.ERROR, f"HTTP {code or 500}"))
        span.end()


def instrument_app(app, component: str) -> bool:
    """Add the tracing middleware (outermost: call after every other add_middleware) when tracing is
    on. Returns whether it was added; when off the app is left untouched."""
    tracer = tracing.tracer(component)
    if tracer is None:
        return False
    app.add_middleware(TracingMiddleware, tracer=tracer)
    return True
