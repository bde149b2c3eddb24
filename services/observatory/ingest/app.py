"""App factory for ingest (and for all-in-one, which adds companions such as the consumer and the
forecaster's routers): the PUBLIC listener serves the write paths and health, the PRIVATE one the
read routers, /metrics and the docs (observatory.listeners).

The write paths are raw ASGI handlers registered in `write_paths` below (path -> handler); their
OpenAPI description is added to the public app's document here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from observatory import __version__
from observatory.api_keys import Access
from observatory.broker.connection import BrokerLink
from observatory.broker.publisher import GroupPublisher, Publisher
from observatory.broker.topology import ROUTING_KEY
from observatory.broker.tracing import publish_tracing
from observatory.events import Validator
from observatory.events.openapi import components
from observatory.events_io import load_schema, new_event_id
from observatory.ingest.auth import KeyRing, RateLimiter
from observatory.ingest.cors import CorsMiddleware
from observatory.ingest.deadletter import DeadLetters
from observatory.ingest.endpoint import PATH, EventsEndpoint
from observatory.ingest.frontend import FrontendObserver
from observatory.ingest.openapi import events_operation
from observatory.ingest.pipeline import Pipeline
from observatory.ingest.sdk import sdk_doors
from observatory.listeners import Listeners, private_app, public_app
from observatory.metrics import IngestMetrics, new_registry
from observatory.middleware import MetricsMiddleware, RequestContextMiddleware, instrument_app
from observatory.settings import ApiSettings, BrokerSettings, IngestSettings

log = logging.getLogger("observatory.ingest")
DESCRIPTION = "Business events in; 202 only once RabbitMQ confirmed them."


class Companion(Protocol):
    """Something that lives inside the same process (the consumer in all-in-one)."""

    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def ready(self) -> bool: ...


def create_app(
    settings: IngestSettings,
    broker: BrokerSettings,
    *,
    registry: CollectorRegistry | None = None,
    companions: Sequence[Companion] = (),
    routers: Sequence[APIRouter] = (),
    service_name: str = "ingest",
    api: ApiSettings | None = None,
) -> Listeners:
    registry = registry or new_registry(service_name, __version__)
    api = api or ApiSettings()
    metrics = IngestMetrics.create(registry)
    keys = KeyRing(settings.parsed_keys())
    limiter = RateLimiter(settings.rate_limit_events_per_s, settings.rate_limit_burst)
    schema = load_schema(settings.schema_path)
    validator = Validator(schema, strict=settings.strict, new_id=new_event_id)
    link = BrokerLink(broker, "ingest", on_state=lambda up: metrics.broker_up.set(1 if up else 0))
    metrics.queue_max_length.labels(queue=broker.queue).set(broker.max_length)
    publisher = GroupPublisher(
        Publisher(link, settings.confirm_timeout_s),
        max_in_flight=settings.publish_in_flight,
        max_events=settings.max_batch,
        tracing=publish_tracing(broker.exchange, ROUTING_KEY),
        max_group_bytes=settings.publish_group_bytes,
        max_waiting=settings.publish_max_waiting,
        max_waiting_bytes=settings.publish_max_waiting_bytes,
        deadline_s=settings.confirm_timeout_s,
    )
    frontend = FrontendObserver(registry, settings.page_pattern_list(), settings.max_exception_types)
    pipeline = Pipeline(
        settings,
        keys,
        limiter,
        validator,
        publisher,
        DeadLetters(link, settings.confirm_timeout_s),
        metrics,
        observers=[frontend],
    )
    endpoint = EventsEndpoint(pipeline)
    # THE write paths of the public listener: path -> raw ASGI handler; the SDK doors (PostHog,
    # Segment/RudderStack, posthog-js init stubs: ingest/sdk.py) share the native door's pipeline
    write_paths: dict[str, ASGIApp] = {PATH: endpoint, **sdk_doors(pipeline)}
    write_docs = {PATH: events_operation(settings)}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await link.start(wait_s=10)
        for companion in companions:
            await companion.start()
        log.info(
            "ingest ready",
            extra={
                "public": f"{settings.host}:{settings.port}",
                "private": f"{settings.private_host}:{settings.private_port}",
                "companions": [c.name for c in companions],
            },
        )
        yield
        for companion in reversed(companions):
            await companion.stop()
        await link.stop()

    checks = {"broker": link.up.is_set, **{c.name: c.ready for c in companions}}
    title = "Observatory ingest API" if service_name == "ingest" else f"Observatory {service_name}"
    public = public_app(title, DESCRIPTION, checks, write_paths)
    _document_write_paths(public, write_docs, components(schema, settings.strict))
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # CORS for the write paths (ingest/cors.py): origin echoed, credentials, headers mirrored
        public.add_middleware(
            CorsMiddleware,
            origins=origins,
            is_write_path=lambda p: (
                p in write_paths or any(p.startswith(w[:-1]) for w in write_paths if w.endswith("*"))
            ),
        )
    access = Access(api.read_keys(), {k.sha256 for k in settings.parsed_keys()} | api.write_hashes())
    private = private_app(
        title,
        DESCRIPTION + " Read API (keys with scopes), metrics and docs.",
        checks,
        registry,
        access,
        lifespan=lifespan,
        routers=routers,
        public=public,
    )
    private.state.link = link
    private.state.publisher = publisher
    private.state.events_endpoint = endpoint
    for app, name in ((public, service_name), (private, service_name)):
        app.add_middleware(MetricsMiddleware, requests=metrics.http_requests, duration=metrics.http_duration)
        app.add_middleware(RequestContextMiddleware)
        instrument_app(app, name)  # outermost; not installed at all when tracing is off
    return Listeners(public, private)


def _document_write_paths(
    app: FastAPI, operations: dict[str, dict[str, Any]], schemas: dict[str, dict[str, Any]]
) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            schema["paths"].update(operations)
            schema["components"]["securitySchemes"] = {
                "ingestKey": {"type": "http", "scheme": "bearer", "description": "an ingest (write-only) key"}
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
