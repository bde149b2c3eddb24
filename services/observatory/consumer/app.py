"""The consumer as a process: migrations at start, the loop, and an HTTP port for health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from clickhouse_connect.driver.client import Client
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from observatory import __version__
from observatory.api_keys import Access
from observatory.consumer.service import Consumer
from observatory.listeners import Listeners, private_app, public_app
from observatory.metrics import ConsumerMetrics, new_registry
from observatory.settings import BrokerSettings, ConsumerSettings, StoreSettings
from observatory.store.client import connect
from observatory.store.migrate import migrate
from observatory.store.sink import ClickHouseSink


def build_consumer(
    broker: BrokerSettings, settings: ConsumerSettings, store: StoreSettings, registry: CollectorRegistry
) -> tuple[Consumer, Client]:
    """Open the store, apply migrations, and return (consumer, client). The caller closes the client."""
    client = connect(store)
    migrate(client, store)
    consumer = Consumer(broker, settings, ClickHouseSink(client, store.database), ConsumerMetrics.create(registry))
    return consumer, client


def create_app(broker: BrokerSettings, settings: ConsumerSettings, store: StoreSettings) -> Listeners:
    """Public listener: health only (OBS_CONSUMER_HOST/PORT). Private: /metrics and health
    (OBS_CONSUMER_METRICS_HOST/PORT, loopback by default)."""
    registry = new_registry("consumer", __version__)
    consumer, client = build_consumer(broker, settings, store, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await consumer.start()
        yield
        await consumer.stop()
        client.close()

    checks = {"consumer": consumer.ready}
    title = "Observatory consumer"
    public = public_app(title, "Health of the consumer.", checks)
    private = private_app(title, "Health and metrics of the consumer.", checks, registry, Access([]), lifespan=lifespan)
    private.state.consumer = consumer
    return Listeners(public, private)
