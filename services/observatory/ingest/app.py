"""FastAPI app factory for ingest (and for all-in-one, which adds companions such as the consumer).

The events endpoint itself lives in ingest/endpoint.py (raw ASGI, documented in the OpenAPI spec
here); FastAPI serves docs, health and metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import APIRouter, FastAPI
from observatory.responses import JSONResponse
from prometheus_client import CollectorRegistry

from observatory import __version__, tracing
from observatory.broker.connection import BrokerLink
from observatory.broker.publisher import GroupPublisher, Publisher
from observatory.broker.topology import ROUTING_KEY
from observatory.events import Validator, load_schema
from observatory.health import health_router
from observatory.ingest.auth import KeyRing, RateLimiter
from observatory.ingest.cors import CorsMiddleware
from observatory.ingest.deadletter import DeadLetters
from observatory.ingest.endpoint import PATH, EventsEndpoint, FastPathMiddleware
from observatory.ingest.frontend import FrontendObserver
from observatory.ingest.pipeline import Pipeline
from observatory.ingest.sdk import sdk_doors
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
_ERROR = {"application/json": {"schema": {"type": "object", "properties": {
    "error": {"type": "string"}, "message": {"type": "string"}}}}}
_RESULT = {"application/json": {"schema": {"type": "object", "properties": {
    "accepted": {"type": "integer"},
    "rejected": {"type": "array", "items": {"type": "object", "properties": {
        "index": {"type": "integer"}, "reason": {"type": "string"}, "code": {"type": "string"}}}}}}}}
EVENTS_PATH = {"post": {
    "summary": "Send one event or a batch of up to 1,000",
    "description": "202 only once RabbitMQ confirmed the events. Valid events of a batch are accepted and "
                   "invalid ones listed with their index and reason.",
    "security": [{"bearer": []}],
    "requestBody": EVENTS_BODY,
    "responses": {
        "202": {"description": "accepted (durably queued)", "content": _RESULT},
        "400": {"description": "malformed JSON, empty batch, or no valid event", "content": _RESULT},
        "401": {"description": "missing or unknown API key", "content": _ERROR},
        "413": {"description": "body over the size limit or more than 1,000 events", "content": _ERROR},
        "415": {"description": "Content-Type is not application/json", "content": _ERROR},
        "429": {"description": "rate limited; see Retry-After", "content": _ERROR},
        "503": {"description": "broker did not confirm; nothing accepted; see Retry-After", "content": _ERROR},
    }}}
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
    publisher = GroupPublisher(Publisher(link, settings.confirm_timeout_s),
                               max_in_flight=settings.publish_in_flight, max_events=settings.max_batch,
                               tracing=tracing.publish_tracing(broker.exchange, ROUTING_KEY),
                               max_group_bytes=settings.publish_group_bytes, max_waiting=settings.publish_max_waiting,
                               max_waiting_bytes=settings.publish_max_waiting_bytes,
                               deadline_s=settings.confirm_timeout_s)
    frontend = FrontendObserver(registry, settings.page_pattern_list(), settings.max_exception_types)
    pipeline = Pipeline(settings, keys, limiter, validator, publisher,
                        DeadLetters(link, settings.confirm_timeout_s), metrics, observers=[frontend])
    endpoint = EventsEndpoint(pipeline)

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
    app.state.publisher = publisher

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
            schema["paths"][PATH] = EVENTS_PATH
            schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    doors, prefixes = sdk_doors(pipeline)  # SDK doors (PostHog, Segment/Rudder): ingest/sdk.py
    app.add_middleware(FastPathMiddleware, endpoint=endpoint, doors=doors, prefixes=prefixes)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        write_paths = {PATH, *doors}
        app.add_middleware(CorsMiddleware, origins=origins,
                           is_write_path=lambda p: p in write_paths or p.startswith("/array/"))
    app.add_middleware(MetricsMiddleware, requests=metrics.http_requests, duration=metrics.http_duration)
    app.add_middleware(RequestContextMiddleware)
    tracing.instrument_app(app, "ingest")  # outermost; not installed at all when tracing is off
    return app
