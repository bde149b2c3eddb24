"""FastAPI app factory for ingest (and for all-in-one, which adds companions such as the consumer).

POST /v1/events answers:
  202 {"accepted": n, "rejected": [{"index": i, "reason": "..."}]}  valid events durably queued
  400 malformed JSON, empty batch, or every event invalid (same body shape, accepted = 0)
  401 missing/unknown API key · 413 body over the limit or too many events · 415 not JSON
  429 rate limited (Retry-After) · 503 broker did not confirm (Retry-After): nothing was accepted
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Protocol

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from observatory.responses import JSONResponse
from prometheus_client import CollectorRegistry

from observatory import __version__
from observatory.broker.connection import BrokerLink
from observatory.broker.publisher import PublishError, Publisher, encode_batch
from observatory.events import Rejection, Validator, load_schema
from observatory.health import health_router
from observatory.ingest.auth import KeyRing, RateLimiter
from observatory.metrics import IngestMetrics, new_registry
from observatory.middleware import MetricsMiddleware, RequestContextMiddleware
from observatory.settings import BrokerSettings, IngestSettings

log = logging.getLogger("observatory.ingest")


class Companion(Protocol):
    """Something that lives inside the same process (the consumer in all-in-one)."""

    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def ready(self) -> bool: ...


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


EVENTS_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "oneOf": [{"$ref": "#/components/schemas/Event"},
                  {"type": "array", "items": {"$ref": "#/components/schemas/Event"}, "minItems": 1,
                   "maxItems": 1000}]},
        "example": {"event_name": "purchase_completed", "user_id": "u-42", "session_id": "s-1",
                    "timestamp": "2026-11-23T10:00:00Z",
                    "properties": {"order_id": "o-1", "total_value": 59.9, "payment_method": "card",
                                   "items": [{"product_id": "p-7", "quantity": 1, "price": 59.9}]}}}},
}
EVENT_SCHEMA = {
    "type": "object", "required": ["event_name", "user_id"], "additionalProperties": False,
    "properties": {
        "event_name": {"type": "string", "maxLength": 200},
        "event_id": {"type": "string", "format": "uuid", "description": "generated (UUIDv7) when absent"},
        "timestamp": {"type": "string", "format": "date-time", "description": "ISO-8601 with zone"},
        "user_id": {"type": "string"}, "session_id": {"type": "string"},
        "properties": {"type": "object"}},
}


def create_app(settings: IngestSettings, broker: BrokerSettings, *, registry: CollectorRegistry | None = None,
               companions: Sequence[Companion] = (), routers: Sequence[APIRouter] = (),
               service_name: str = "ingest") -> FastAPI:
    registry = registry or new_registry(service_name, __version__)
    metrics = IngestMetrics.create(registry)
    keys = KeyRing(settings.parsed_keys())
    limiter = RateLimiter(settings.rate_limit_events_per_s, settings.rate_limit_burst)
    validator = Validator(load_schema(settings.schema_path), strict=settings.strict)
    link = BrokerLink(broker, "ingest", on_state=lambda up: metrics.broker_up.set(1 if up else 0))
    metrics.queue_max_length.labels(queue=broker.queue).set(broker.max_length)
    publisher = Publisher(link, settings.confirm_timeout_s)
    retry_after = {"Retry-After": str(settings.retry_after_s)}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await link.start(wait_s=10)
        for companion in companions:
            await companion.start()
        log.info("ingest ready", extra={"host": settings.host, "port": settings.port,
                                        "companions": [c.name for c in companions]})
        yield
        for companion in reversed(companions):
            await companion.stop()
        await link.stop()

    app = FastAPI(title="Observatory ingest API", version=__version__, lifespan=lifespan,
                  default_response_class=JSONResponse,
                  description="Business events in; 202 only once RabbitMQ confirmed them.")
    app.state.registry = registry
    app.state.link = link

    async def read_body(request: Request) -> bytes | JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _error(413, "body_too_large", f"body is larger than {settings.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                return _error(413, "body_too_large", f"body is larger than {settings.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post("/v1/events", status_code=202, summary="Send one event or a batch of up to 1,000",
              openapi_extra={"requestBody": EVENTS_BODY},
              responses={400: {}, 401: {}, 413: {}, 415: {}, 429: {}, 503: {}})
    async def post_events(request: Request):
        source = keys.source_for(request.headers.get("authorization"))
        if source is None:
            return _error(401, "unauthorized", "missing or unknown API key (Authorization: Bearer <key>)",
                          {"WWW-Authenticate": "Bearer"})
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, "unsupported_media_type", "send Content-Type: application/json")
        body = await read_body(request)
        if isinstance(body, JSONResponse):
            metrics.events_rejected.labels(reason="body_too_large").inc()
            return body
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            metrics.events_rejected.labels(reason="malformed_json").inc()
            return _error(400, "malformed_json", f"body is not valid JSON: {exc}")
        events = payload if isinstance(payload, list) else [payload]
        if not events:
            return _error(400, "empty_batch", "the batch holds no event")
        if len(events) > settings.max_batch:
            metrics.events_rejected.labels(reason="batch_too_large").inc(len(events))
            return _error(413, "batch_too_large", f"at most {settings.max_batch} events per request")
        wait = limiter.take(source, len(events))
        if wait:
            metrics.events_rejected.labels(reason="rate_limited").inc(len(events))
            seconds = "60" if math.isinf(wait) else str(max(1, math.ceil(wait)))
            return _error(429, "rate_limited", "rate limit exceeded for this API key", {"Retry-After": seconds})

        received = datetime.now(timezone.utc)
        accepted, rejected = [], []
        for index, raw in enumerate(events):
            result = validator.validate(raw, received, source)
            if isinstance(result, Rejection):
                rejected.append({"index": index, "reason": result.message, "code": result.code})
                metrics.events_rejected.labels(reason=result.code).inc()
            else:
                accepted.append(result)
        if not accepted:
            return JSONResponse({"accepted": 0, "rejected": rejected}, status_code=400)

        with metrics.publish_confirm.time():
            try:
                await publisher.publish(encode_batch(accepted, {"x-request-id": request.state.request_id}))
            except PublishError as exc:
                metrics.publish_failures.labels(reason=exc.reason).inc()
                metrics.events_rejected.labels(reason="broker_" + exc.reason).inc(len(accepted))
                log.warning("publish not confirmed: %s", exc, extra={"reason": exc.reason, "events": len(accepted)})
                return _error(503, "broker_unavailable", f"{exc}; nothing was accepted, retry later", retry_after)
        metrics.events_accepted.labels(source=source).inc(len(accepted))
        return JSONResponse({"accepted": len(accepted), "rejected": rejected}, status_code=202)

    checks = {"broker": link.up.is_set, **{c.name: c.ready for c in companions}}
    app.include_router(health_router(checks, registry))
    for router in routers:
        app.include_router(router)

    def openapi():
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Event"] = EVENT_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["POST", "OPTIONS"],
                           allow_headers=["authorization", "content-type", "x-request-id"], max_age=600)
    app.add_middleware(MetricsMiddleware, requests=metrics.http_requests, duration=metrics.http_duration)
    app.add_middleware(RequestContextMiddleware)
    return app
