"""ASGI middleware shared by the HTTP services: request ids and RED metrics.

Route labels are the matched route templates (`/v1/forecast/{metric}`), never raw paths, so a
scanner hitting random URLs cannot blow up the series count (all of those count as `unmatched`).
"""

from __future__ import annotations

import re
import time
import uuid

from prometheus_client import Counter, Histogram

from observatory.logging import request_id_var
from observatory.tracing import exemplar

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Accept a sane `X-Request-ID` or make one; expose it to logs and return it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                rid = candidate if _SAFE_ID.match(candidate) else None
                break
        rid = rid or uuid.uuid4().hex
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

    async def __call__(self, scope, receive, send):
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
            self.requests.labels(route=template, method=method, code=str(status["code"])).inc()
            self.duration.labels(route=template, method=method).observe(time.perf_counter() - started, exemplar())


_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
