"""Pipeline fixtures: the real ingest app (ASGI, with its lifespan) and the real consumer, in this
process, on the session's RabbitMQ node and chDB folder; plus helpers to wait on ClickHouse."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from observatory.consumer.app import build_consumer
from observatory.forecaster.app import create_app as create_forecaster
from observatory.ingest.app import create_app
from observatory.metrics import new_registry
from observatory.poll import wait_for_async
from observatory.settings import ApiSettings, ConsumerSettings, ForecasterSettings, IngestSettings, hash_key

API_KEY = "obs_test_key_5f1c2a9e"
OTHER_KEY = "obs_test_other_91b7d3"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
READ_KEY = "obs_r_test_read_3c7d1e"  # OBS_API_KEYS, scope read
ADMIN_KEY = "obs_r_test_admin_8a2f64"  # OBS_API_KEYS, scope admin
READ = {"Authorization": f"Bearer {READ_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def read_keys_entry() -> str:
    return f"analyst:sha256:{hash_key(READ_KEY)}:read,ops:sha256:{hash_key(ADMIN_KEY)}:admin"


def api_settings() -> ApiSettings:
    return ApiSettings(api_keys=read_keys_entry(), ingest_api_keys=f"tests:sha256:{hash_key(API_KEY)}")


@contextlib.asynccontextmanager
async def open_forecaster(chdb, store, clock, reports=None, registry=None, **overrides):
    """The forecaster app over `store` with the test's clock and no scheduler; yields the app and an
    admin-keyed client of its private listener (the read API)."""
    app = create_forecaster(
        ForecasterSettings(**overrides),
        store,
        reports,
        registry=registry or new_registry("forecaster", "test"),
        clock=clock,
        schedule=False,
        api=api_settings(),
    )
    chdb.track(app.state.forecaster.client)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app.private)
        async with httpx.AsyncClient(transport=transport, base_url="http://forecaster", headers=ADMIN) as http:
            yield app, http


def ingest_settings(**overrides) -> IngestSettings:
    keys = f"tests:sha256:{hash_key(API_KEY)},other:sha256:{hash_key(OTHER_KEY)}"
    return IngestSettings(**{"api_keys": keys, "confirm_timeout_s": 5, **overrides})


class Pipeline:
    """`http`: the public listener (write paths, health); `private`: the private one (metrics, docs,
    read API), with a read key by default."""

    def __init__(
        self,
        app,
        client: httpx.AsyncClient,
        consumer,
        store_settings,
        broker_settings,
        private: httpx.AsyncClient | None = None,
    ) -> None:
        self.app, self.http, self.consumer, self.private = app, client, consumer, private
        self.store, self.broker = store_settings, broker_settings
        self.db = store_settings.database

    async def post(self, body=None, *, content: bytes | None = None, headers: dict | None = None):
        hdrs = {**AUTH, **(headers or {})}
        if content is not None:
            hdrs.setdefault("Content-Type", "application/json")
            return await self.http.post("/v1/events", content=content, headers=hdrs)
        return await self.http.post("/v1/events", json=body, headers=hdrs)


@pytest.fixture
def make_pipeline(broker_settings, store_settings, chdb):
    """Factory: `async with make_pipeline(consumer=True, **ingest_overrides) as p:`."""

    @contextlib.asynccontextmanager
    async def factory(
        consumer: bool = True, consumer_settings: ConsumerSettings | None = None, broker=None, **overrides
    ):
        broker = broker or broker_settings
        registry = new_registry("test", "0")
        companions = []
        cons = None
        if consumer:
            cons, client = build_consumer(
                broker, consumer_settings or ConsumerSettings(flush_ms=50, queue_poll_s=0.5), store_settings, registry
            )
            chdb.track(client)
            companions.append(cons)
        app = create_app(
            ingest_settings(**overrides), broker, registry=registry, companions=companions, api=api_settings()
        )
        async with app.lifespan():
            async with (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app.public), base_url="http://ingest") as http,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app.private), base_url="http://ingest-private", headers=READ
                ) as private,
            ):
                yield Pipeline(app, http, cons, store_settings, broker, private)

    return factory


def host_consumer_and_forecaster(broker_settings, registry, consumer, forecaster):
    """Ingest's listeners with the consumer as a companion and the forecaster's routes: all-in-one's
    shape (without the forecaster's scheduler) on the test keys, for tests that build the two
    themselves."""
    return create_app(
        ingest_settings(),
        broker_settings,
        registry=registry,
        companions=[consumer],
        routers=[forecaster.router],
        api=api_settings(),
    )


async def wait_until(what: str, check, timeout_s: float = 20.0, interval_s: float = 0.1):
    """Await a condition (sync or async callable) with a deadline that names what was awaited
    (observatory.poll; an exception in the check fails the test at once)."""
    return await wait_for_async(what, check, timeout_s, interval_s, transient=())


def count_rows(ch, db: str, final: bool = True, where: str = "1") -> int:
    return ch.query(f"SELECT count() FROM {db}.events {'FINAL' if final else ''} WHERE {where}").result_rows[0][0]


def broker_env(broker) -> dict[str, str]:
    """OBS_AMQP_* for a service process on `broker`'s node and topology names (see tests.conftest.topology)."""
    return {
        "OBS_AMQP_URL": broker.url,
        "OBS_AMQP_EXCHANGE": broker.exchange,
        "OBS_AMQP_QUEUE": broker.queue,
        "OBS_AMQP_DEAD_LETTER_EXCHANGE": broker.dead_letter_exchange,
        "OBS_AMQP_DEAD_LETTER_QUEUE": broker.dead_letter_queue,
    }


def service_env(broker, dsn: str, database: str, **extra) -> dict[str, str]:
    """Environment for an `observatory run ...` subprocess on the test's broker names and a store."""
    env = service_env_base()
    env.update(
        {
            **broker_env(broker),
            "OBS_AMQP_MAX_LENGTH": str(broker.max_length),
            "OBS_CLICKHOUSE_DSN": dsn,
            "OBS_CLICKHOUSE_DATABASE": database,
            "OBS_INGEST_API_KEYS": f"tests:sha256:{hash_key(API_KEY)}",
            "OBS_API_KEYS": read_keys_entry(),
        }
    )
    # every listener on a free port unless the test names it (the defaults are fixed well-known ports)
    from observatory.localstack.proc import free_port

    for var in (
        "OBS_INGEST_PORT",
        "OBS_INGEST_PRIVATE_PORT",
        "OBS_CONSUMER_PORT",
        "OBS_CONSUMER_METRICS_PORT",
        "OBS_FORECASTER_PORT",
        "OBS_FORECASTER_PRIVATE_PORT",
    ):
        env[var] = str(free_port())
    env.update({k: str(v) for k, v in extra.items()})
    return env


def query_store(dsn: str, database: str, sql: str) -> list[dict]:
    """Query a chDB folder this process must not open, through the `observatory query` CLI."""
    from observatory.store.subprocess_query import query_rows

    return query_rows(dsn, sql, {**service_env_base(), "OBS_CLICKHOUSE_DATABASE": database}, timeout_s=120)


def service_env_base() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("OBS_")} | {"OBS_ENV": "test"}
