"""The console's health page in Chromium lists the alerts a real Alertmanager (the repo's routing)
holds, each with its runbook link, as GET /v1/health/summary gives them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from observatory.forecaster.app import create_app
from observatory.localstack.proc import wait_for
from observatory.metrics import new_registry
from observatory.settings import ForecasterSettings, StoreSettings
from tests.conftest import unique
from tests.integration.alerting.test_routing_live import RUNBOOKS, alert, states
from tests.integration.conftest import api_settings
from tests.integration.console.test_console import drive
from tests.integration.sdk.conftest import serve
from tests.integration.sdk.test_browser import _npm_packages
from tests.integration.shopdata import load
from tests.tools import require

pytestmark = pytest.mark.slow


async def test_health_page_lists_firing_alerts_with_runbook_links(chdb, routing):
    require("chromium")
    _npm_packages()
    am, _slack, _smtp = routing
    store = StoreSettings(dsn=chdb.dsn, database=unique("console_alerts"))
    client = chdb.client()
    load(client, store, [], dup_ratio=0)
    client.close()
    am.post_alerts([alert("PaymentFailureRateSpike", "critical", "forecaster", team="business")])
    wait_for("the alert active", lambda: list(states(am).values()) == ["active"], 30)
    app = create_app(
        ForecasterSettings(alertmanager_url=am.url, metrics="revenue"),
        store,
        registry=new_registry("forecaster", "test"),
        clock=lambda: datetime.now(UTC),
        schedule=False,
        api=api_settings(),
    )
    chdb.track(app.state.forecaster.client)
    async with app.lifespan(), serve(app.private) as base:
        seen = await drive(base)
    health = seen["pages"]["health"]
    assert health["panels"]["alerts"]["empty"] is None, health["panels"]["alerts"]
    assert health["alerts"] == [{"name": "PaymentFailureRateSpike", "runbook": f"{RUNBOOKS}PaymentFailureRateSpike.md"}]
    # an empty store: every other page says so in words
    assert seen["pages"]["forecasts"]["panels"]["fc-revenue"]["empty"].startswith("Forecasts need 14 days")
    assert "no pageviews between" in seen["pages"]["web"]["panels"]["totals"]["empty"].lower()
