"""Forecaster app factory: standalone (`observatory run forecaster`) or mounted into all-in-one
(`build_forecaster` returns the router and the scheduler companion over the same chDB folder)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from observatory import __version__
from observatory.api_keys import Access
from observatory.churn.service import ChurnService
from observatory.console.routes import console_router as console_pages
from observatory.console.session import Sessions, load_secret
from observatory.forecaster.api import forecaster_router
from observatory.forecaster.console_api import console_router
from observatory.forecaster.health_summary import HealthSummary
from observatory.forecaster.scheduler import Scheduler
from observatory.forecaster.service import ForecastService
from observatory.forecaster.sql_api import ReadOnlyStore, query_router
from observatory.listeners import Listeners, private_app, public_app
from observatory.metrics import ForecasterMetrics, new_registry
from observatory.middleware import MetricsMiddleware, RequestContextMiddleware, instrument_app
from observatory.settings import ApiSettings, ConsoleSettings, ForecasterSettings, ReportSettings, StoreSettings
from observatory.store.analytics import Analytics
from observatory.store.client import connect
from observatory.store.migrate import migrate
from observatory.store.tracing import traced_clickhouse

log = logging.getLogger("observatory.forecaster")


@dataclass
class Forecaster:
    service: ForecastService
    scheduler: Scheduler
    router: APIRouter
    metrics: ForecasterMetrics
    client: Client
    sql: ReadOnlyStore | None = None  # POST /v1/query's read-only session
    churn: ChurnService | None = None
    console: Sessions | None = None  # the web console's sessions (app.state.console_sessions)

    def close(self) -> None:
        self.service.pool.close()
        self.client.close()
        if self.sql is not None:
            self.sql.close()


def _event_names(settings: ForecasterSettings) -> set[str]:
    try:
        from observatory.events_io import load_schema

        return set(load_schema(settings.schema_path).events)
    except Exception as exc:  # noqa: BLE001 - events:<name> then needs data to be known
        log.warning("event schema not loaded (%s): events:<name> metrics are known once data exists", exc)
        return set()


def build_forecaster(
    settings: ForecasterSettings,
    store: StoreSettings,
    registry: CollectorRegistry,
    reports: ReportSettings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    client=None,
    console: ConsoleSettings | None = None,
) -> Forecaster:
    """Open the store (or use `client`), apply migrations, and assemble service, routes, scheduler.
    In all-in-one pass the same StoreSettings as the consumer: a second client on the same chDB
    folder in the same process is fine."""
    client = traced_clickhouse(client or connect(store), store.database)  # itself when tracing is off
    migrate(client, store)
    metrics = ForecasterMetrics.create(registry)
    service = ForecastService(settings, Analytics(client, store.database), metrics, _event_names(settings), clock)
    churn = (
        ChurnService(service.analytics, registry, min_users=settings.churn_min_users, compute=service.compute)
        if settings.churn
        else None
    )
    scheduler = Scheduler(service, reports, clock, churn=churn)
    router, sql = forecaster_router(service, reports, churn), ReadOnlyStore(store)
    router.include_router(query_router(sql))  # POST /v1/query: read-only SQL for a read key
    health = HealthSummary(registry, service.analytics, settings.alertmanager_url)
    router.include_router(console_router(service, health))  # the read API the web console's pages use
    console = console or ConsoleSettings()
    secret = load_secret(console.session_secret.get_secret_value(), console.session_secret_file)
    sessions = Sessions(secret, console.session_ttl_s)
    router.include_router(console_pages(sessions, service.clock, secure=console.cookie_secure))  # /console/
    return Forecaster(service, scheduler, router, metrics, client, sql, churn, sessions)


def create_app(
    settings: ForecasterSettings,
    store: StoreSettings,
    reports: ReportSettings | None = None,
    *,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], datetime] | None = None,
    schedule: bool = True,
    api: ApiSettings | None = None,
    console: ConsoleSettings | None = None,
) -> Listeners:
    """Public listener: health only. Private listener: the read API (keys), the console, /metrics, docs."""
    registry = registry or new_registry("forecaster", __version__)
    api = api or ApiSettings()
    fc = build_forecaster(settings, store, registry, reports, clock=clock, console=console)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if schedule:
            await fc.scheduler.start()
        log.info(
            "forecaster ready",
            extra={
                "public": f"{settings.host}:{settings.port}",
                "private": f"{settings.private_host}:{settings.private_port}",
            },
        )
        yield
        await fc.scheduler.stop()
        fc.close()

    checks = {"store": fc.service.ping}
    if schedule:
        checks["scheduler"] = fc.scheduler.running
    title = "Observatory forecaster"
    public = public_app(title, "Health of the forecaster (its API is on the private listener).", checks)
    private = private_app(
        title,
        DESCRIPTION,
        checks,
        registry,
        Access(api.read_keys(), api.write_hashes()),
        lifespan=lifespan,
        routers=[fc.router],
    )
    private.state.forecaster = fc
    private.state.console_sessions = fc.console
    for app in (public, private):
        app.add_middleware(MetricsMiddleware, requests=fc.metrics.http_requests, duration=fc.metrics.http_duration)
        app.add_middleware(RequestContextMiddleware)
        instrument_app(app, "forecaster")
    return Listeners(public, private)


DESCRIPTION = (
    "Forecasts of business metrics (the model chosen per metric by backtest: Prophet, ETS, seasonal "
    "baselines or their blend, with a calibrated band), analytics KPIs, anomaly gauges, reports. Every route "
    "below /v1 needs a read key (`Authorization: Bearer <key>`, OBS_API_KEYS); reports need admin."
)
