"""All-in-one: ingest, consumer and forecaster (routes and scheduler) in ONE process over one store.

Why one process: the embedded ClickHouse (chDB) lets one process hold a data folder, and both the
consumer and the forecaster need it; ingest joins them so the local stack is one process to watch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from observatory import __version__
from observatory.consumer.app import build_consumer
from observatory.forecaster.app import build_forecaster
from observatory.ingest.app import create_app as create_ingest
from observatory.listeners import Listeners
from observatory.metrics import new_registry
from observatory.settings import (
    ApiSettings,
    BrokerSettings,
    ConsumerSettings,
    ForecasterSettings,
    IngestSettings,
    ReportSettings,
    StoreSettings,
)


def create_app(
    ingest: IngestSettings,
    broker: BrokerSettings,
    consumer_settings: ConsumerSettings,
    store: StoreSettings,
    forecaster_settings: ForecasterSettings,
    report: ReportSettings,
    api: ApiSettings,
) -> Listeners:
    registry = new_registry("all-in-one", __version__)
    consumer, _client = build_consumer(broker, consumer_settings, store, registry)
    # the forecaster shares the process and its chDB folder (a second client on the same folder)
    forecaster = build_forecaster(forecaster_settings, store, registry, report)
    forecaster.scheduler.closers.append(forecaster.close)
    listeners = create_ingest(
        ingest,
        broker,
        registry=registry,
        companions=[consumer, forecaster.scheduler],
        routers=[forecaster.router],
        service_name="all-in-one",
        api=api,
    )
    listeners.state.forecaster = forecaster
    listeners.state.console_sessions = forecaster.console  # the console's cookie on the read API
    return listeners


def create_app_from(load: Callable[[type], Any]) -> Listeners:
    """create_app with each settings object made by `load(SettingsClass)` (the CLI passes its
    environment loader, which reports invalid settings readably)."""
    return create_app(
        load(IngestSettings),
        load(BrokerSettings),
        load(ConsumerSettings),
        load(StoreSettings),
        load(ForecasterSettings),
        load(ReportSettings),
        load(ApiSettings),
    )
