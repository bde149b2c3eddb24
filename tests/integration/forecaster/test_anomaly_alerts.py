"""An injected revenue drop, end to end: events in chDB -> the forecaster's gauges on its real /metrics
-> a real Prometheus evaluating alert-rules/business.rules.yml (`for:` shortened) -> a real
Alertmanager with the repo's routing tree -> a Slack post on #alerts-business. A second forecaster
over the same traffic without the drop is scraped by the same Prometheus and must stay silent."""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from datetime import timedelta

import pytest
import uvicorn

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.prometheus import PrometheusServer
from observatory.monitoring import RULES_DIR, amconfig, load_yaml, promconfig, rules
from observatory.monitoring.sinks import SlackRecorder
from observatory.settings import StoreSettings
from tests.conftest import unique
from tests.integration.analytics.reference import ts
from tests.integration.forecaster.conftest import NOW
from tests.integration.shopdata import load, webshop_events
from tests.tools import require

require("prometheus"), require("prometheus-alertmanager")  # launched by the rig below
BUSINESS_RULES = RULES_DIR / "business.rules.yml"
FOR_FACTOR = 1800  # every `for:` of the business rules (5m-30m) becomes 1s


def drop_revenue(events: list[dict], keep: float = 0.3) -> list[dict]:
    """Lose (1 - keep) of the purchases of the last 24 hours, e.g. a payment outage."""
    out = []
    for e in events:
        recent = NOW - timedelta(hours=24) <= ts(e) < NOW
        if (
            recent
            and e["event_name"] == "purchase_completed"
            and zlib.crc32(e["event_id"].encode()) % 100 >= keep * 100
        ):
            continue
        out.append(e)
    return out


@contextlib.contextmanager
def serve(app):
    """The forecaster app over HTTP on a loopback port (its lifespan already entered by the test)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app.private, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(f"forecaster on 127.0.0.1:{port}", lambda: server.started, 15)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def dropped(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("drop"))
    client = chdb.client()
    events = drop_revenue(webshop_events(42, NOW, seed=21, base_sessions=300))
    load(client, store, events, dup_ratio=0.1)
    client.close()
    return store


async def test_revenue_drop_reaches_slack_alerts_business(shop, dropped, make_forecaster, tmp_path):
    normal_store, _ = shop
    slack = SlackRecorder().start()
    url_file = tmp_path / "slack-url"
    url_file.write_text(slack.url)
    am = AlertmanagerServer(
        tmp_path / "am", amconfig.render(amconfig.Endpoints(slack_url_file=url_file), amconfig.FAST_TIMING)
    )
    prom = None
    try:
        am.start(30)
        async with (
            make_forecaster(dropped, metrics="revenue,dau") as (bad_app, _),
            make_forecaster(normal_store, metrics="revenue,dau") as (good_app, _),
        ):
            for app in (bad_app, good_app):
                ran = await app.state.forecaster.scheduler.tick()
                assert "refresh:revenue" in ran and "evaluate" in ran
            bad_values = bad_app.state.forecaster.service.evaluate()["metrics"]["revenue"]
            good_values = good_app.state.forecaster.service.evaluate()["metrics"]["revenue"]
            # the drop is visible in the gauges themselves, and ordinary traffic is not flagged
            assert bad_values["actual"] < 0.5 * bad_values["moving_average_7d"]
            assert bad_values["actual"] < bad_values["lower"]
            assert 0.8 < good_values["actual"] / good_values["moving_average_7d"] < 1.2
            assert good_values["lower"] < good_values["actual"] < good_values["upper"]
            with serve(bad_app) as bad, serve(good_app) as good:
                rule_copy = rules.shortened_copy(tmp_path / "rules", factor=FOR_FACTOR, files=[BUSINESS_RULES])
                plan = promconfig.LoopbackPlan(
                    targets={"forecaster": [bad, good]},
                    rule_files=[str(p) for p in rule_copy],
                    alertmanagers=[f"127.0.0.1:{am.port}"],
                    intervals=promconfig.FAST_INTERVALS,
                )
                prom = PrometheusServer(tmp_path / "prom", promconfig.loopback_config(plan)).start(30)

                def firing(name: str) -> list[dict]:
                    return [a for a in prom.alerts() if a["labels"]["alertname"] == name and a["state"] == "firing"]

                wait_for(
                    "RevenueBelowMovingAverage and RevenueBelowForecastBand firing in Prometheus",
                    lambda: firing("RevenueBelowMovingAverage") and firing("RevenueBelowForecastBand"),
                    60,
                )
                post = slack.wait_for(
                    "a Slack post about the revenue drop on #alerts-business",
                    lambda p: p.channel == "#alerts-business" and p.mentions("RevenueBelowMovingAverage"),
                    timeout_s=30,
                )
                # anything else that would fire has fired once every rule was evaluated past the
                # longest shortened `for:` after the drop was seen (a positive signal, not a sleep)
                longest_for = max(
                    rules.parse_duration(r.get("for", "0s"))
                    for path in rule_copy
                    for g in load_yaml(path)["groups"]
                    for r in g["rules"]
                    if "alert" in r
                )
                seen = time.time()
                wait_for(
                    "every business rule evaluated past the longest `for:`",
                    lambda: prom.evaluated_since(seen + longest_for),
                    60,
                )
                alerts = [a for a in prom.alerts() if a["state"] == "firing"]
    finally:
        if prom is not None:
            prom.stop()
        am.stop()
        slack.stop()
    by_name = {}
    for a in alerts:
        by_name.setdefault(a["labels"]["alertname"], []).append(a["labels"])
    # only the instance with the drop fires, with the labels that route it to the business team
    for name in ("RevenueBelowMovingAverage", "RevenueBelowForecastBand"):
        (labels,) = by_name.pop(name)
        assert labels["instance"] == bad and labels["metric"] == "revenue"
        assert (labels["team"], labels["service"], labels["severity"]) == ("business", "forecaster", "warning")
    # users kept coming (only purchases dropped), payments did not fail more: nothing else fires
    assert not by_name, by_name
    assert post.mentions("runbooks/RevenueBelowMovingAverage.md")
    assert not [p for p in slack.delivered() if p.channel != "#alerts-business"]
