"""The forecaster app on the session's chDB folder, over a database of generated webshop events, with
a clock the test controls."""

from __future__ import annotations

from datetime import datetime

import pytest

from observatory.settings import ReportSettings, StoreSettings
from tests.conftest import unique
from tests.integration.conftest import open_forecaster
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
    def factory(store: StoreSettings, clock=None, reports: ReportSettings | None = None, **overrides):
        return open_forecaster(chdb, store, clock or Clock(NOW), reports, **overrides)

    return factory
