"""The consumer as a process: migrations at start, the loop, and an HTTP port for health and metrics."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from observatory import __version__
from observatory.consumer.service import Consumer
from observatory.consumer.sink import ClickHouseSink
from observatory.health import health_router
from observatory.metrics import ConsumerMetrics, new_registry
from observatory.settings import BrokerSettings, ConsumerSettings, StoreSettings
from observatory.store.client import connect
from observatory.store.migrate import migrate


def build_consumer(broker: BrokerSettings, settings: ConsumerSettings, store: StoreSettings,
                   registry: CollectorRegistry) -> tuple[Consumer, object]:
    """Open the store, apply migrations, and return (consumer, client). The caller closes the client."""
    client = connect(store)
    migrate(client, store)
    consumer = Consumer(broker, settings, ClickHouseSink(client, store.database), ConsumerMetrics.create(registry))
    return consumer, client


def create_app(broker: BrokerSettings, settings: ConsumerSettings, store: StoreSettings) -> FastAPI:
    registry = new_registry("consumer", __version__)
    consumer, client = build_consumer(broker, settings, store, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await consumer.start()
        yield
        await consumer.stop()
        client.close()

    app = FastAPI(title="Observatory consumer", version=__version__, lifespan=lifespan)
    app.include_router(health_router({"consumer": consumer.ready}, registry))
    app.state.consumer = consumer
    return app
