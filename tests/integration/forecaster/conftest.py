"""The forecaster app on the session's chDB folder, over a database of generated webshop events, with
a clock the test controls."""

from __future__ import annotations

import contextlib
from datetime import datetime

import httpx
import pytest

from observatory.forecaster.app import create_app
from observatory.metrics import new_registry
from observatory.settings import ForecasterSettings, ReportSettings, StoreSettings
from tests.conftest import unique
from tests.integration.conftest import ADMIN, api_settings
from tests.integration.shopdata import load, utc, webshop_events

NOW = utc(2026, 3, 4, 15)  # a Wednesday afternoon


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def shop(chdb):
    """42 days of webshop traffic ending at NOW (10% redelivered duplicates)."""
    store = StoreSettings(dsn=chdb.dsn, database=unique("forecast"))
    client = chdb.client()
    events = webshop_events(42, NOW, seed=21, base_sessions=300)
    load(client, store, events, dup_ratio=0.1)
    client.close()
    return store, events


@pytest.fixture
def make_forecaster(chdb):
    @contextlib.asynccontextmanager
    async def factory(store: StoreSettings, clock=None, reports: ReportSettings | None = None, **overrides):
        clock = clock or Clock(NOW)
        app = create_app(
            ForecasterSettings(**overrides),
            store,
            reports,
            registry=new_registry("forecaster", "test"),
            clock=clock,
            schedule=False,
            api=api_settings(),
        )
        chdb.track(app.state.forecaster.client)
        async with app.lifespan():
            # the private listener (the read API), with an admin key unless a test passes its own
            transport = httpx.ASGITransport(app=app.private)
            async with httpx.AsyncClient(transport=transport, base_url="http://forecaster", headers=ADMIN) as http:
                yield app, http

    return factory
