"""The forecaster's HTTP API and gauges on real chDB data and real Prophet fits."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from observatory.settings import StoreSettings
from tests.conftest import unique
from tests.integration.analytics.reference import Reference, cents, ts
from tests.integration.forecaster.conftest import NOW, Clock
from tests.integration.shopdata import load, webshop_events


def samples(text: str, prefix: str = "forecaster_") -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(prefix):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_revenue_forecast_points_band_and_metadata(shop, make_forecaster):
    store, events = shop
    async with make_forecaster(store) as (app, http):
        r = await http.get("/v1/forecast/revenue", params={"periods": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    points = body["points"]
    assert body["metric"] == "revenue" and body["granularity"] == "day" and len(points) == 30
    # the first forecast bucket is today (NOW's day is incomplete, so it is not history)
    assert points[0]["ds"] == "2026-03-04T00:00:00Z" and points[-1]["ds"] == "2026-04-02T00:00:00Z"
    assert all(0 <= p["yhat_lower"] <= p["yhat"] <= p["yhat_upper"] for p in points)
    meta = body["model"]
    assert meta["history"] == {"start": "2026-01-21T00:00:00Z", "end": "2026-03-04T00:00:00Z", "points": 42}
    assert meta["fitted_at"] == "2026-03-04T15:00:00Z"
    assert meta["model"]["weekly_seasonality"] is True and meta["model"]["daily_seasonality"] is False
    assert meta["model"]["prophet_trend"] == "flat"  # OBS_FORECASTER_PROPHET_TREND's default
    bt = meta["backtest"]
    # 42 days = 14 to train + 2 selection folds of 14 (5 by default, fewer when the history is short)
    assert (bt["horizon"], bt["folds"], bt["points"]) == (14, 2, 28) and 0 < bt["mape"] < 0.5 and bt["mase"] > 0
    assert meta["model"]["kind"] == bt["chosen"] and bt["chosen"] in bt["candidates"]
    # 2 folds, fewer than the 5 recent folds a richer model must win on: only the fallbacks (the baselines,
    # their median, the seasonal median) may serve, and the one with the lowest MAE does
    fallback_mae = {
        name: c["mae"]
        for name, c in bt["candidates"].items()
        if name
        in ("seasonal_naive_day", "seasonal_naive_week", "ets", "baseline_median", "seasonal_median", "pool_blend")
        and c.get("mae") is not None
    }
    assert bt["chosen"] in fallback_mae and bt["mae"] == min(fallback_mae.values())
    assert bt["best_baseline"] in ("seasonal_naive_day", "seasonal_naive_week", "ets")
    assert bt["band"]["method"] == "split_conformal" and bt["band"]["scores"] == 28 and meta["model"]["calibrated"]
    # the forecast is of the right size: the mean forecast of the next week is within 30% of the last week
    daily = {}
    for e in events:
        if e["event_name"] == "purchase_completed" and ts(e) < NOW.replace(hour=0):
            daily[ts(e).date()] = daily.get(ts(e).date(), 0) + cents(e["properties"]["total_value"])
    last_week = sum(sorted(daily.items())[-7:][i][1] for i in range(7)) / 700
    next_week = sum(p["yhat"] for p in points[:7]) / 7
    assert abs(next_week / last_week - 1) < 0.3


async def test_forecasts_are_stored_for_dashboards(shop, make_forecaster, chdb):
    store, _ = shop
    async with make_forecaster(store) as (app, http):
        assert (await http.get("/v1/forecast/orders")).status_code == 200
        client = app.state.forecaster.client
        rows = client.query(
            f"SELECT is_forecast, count(), min(ds), max(ds), any(fitted_at) FROM {store.database}.forecasts FINAL "
            "WHERE metric = 'orders' AND granularity = 'day' GROUP BY is_forecast ORDER BY is_forecast"
        ).result_rows
    (hist, n_hist, first, _, fitted), (fut, n_fut, start, end, _) = rows
    assert (hist, n_hist, fut, n_fut) == (0, 42, 1, 90)
    assert first.isoformat()[:10] == "2026-01-21" and start.isoformat()[:10] == "2026-03-04"
    assert end.isoformat()[:10] == "2026-06-01"
    assert fitted.isoformat()[:16] == "2026-03-04T15:00"


async def test_hourly_forecast_and_event_metrics(shop, make_forecaster):
    store, _ = shop
    async with make_forecaster(store) as (app, http):
        hourly = await http.get("/v1/forecast/orders", params={"granularity": "hour", "periods": 48})
        event = await http.get("/v1/forecast/events:add_to_cart", params={"periods": 7})
        custom = await http.get("/v1/forecast/events:checkout_started", params={"periods": 7})
    assert hourly.status_code == 200, hourly.text
    pts = hourly.json()["points"]
    assert len(pts) == 48 and pts[0]["ds"] == "2026-03-04T15:00:00Z" and pts[1]["ds"] == "2026-03-04T16:00:00Z"
    assert hourly.json()["model"]["model"]["daily_seasonality"] is True
    assert hourly.json()["model"]["history"]["points"] == 24 * 28  # OBS_FORECASTER_HISTORY_HOURS
    assert event.status_code == 200 and len(event.json()["points"]) == 7
    assert custom.status_code == 200


async def test_unknown_metric_is_404(shop, make_forecaster):
    store, _ = shop
    async with make_forecaster(store) as (app, http):
        for metric in ("bogus", "events:never_sent_event", "events:", "revenue_total"):
            r = await http.get(f"/v1/forecast/{metric}")
            assert r.status_code == 404, (metric, r.text)
            assert r.json()["error"] == "unknown_metric" and "revenue" in r.json()["metrics"]


async def test_bad_parameters_are_422_with_the_parameter_named(shop, make_forecaster):
    store, _ = shop
    cases = [
        ("/v1/forecast/revenue", {"periods": "0"}, "periods"),
        ("/v1/forecast/revenue", {"periods": "abc"}, "periods"),
        ("/v1/forecast/revenue", {"periods": "91"}, "periods"),
        ("/v1/forecast/revenue", {"granularity": "week"}, "granularity"),
        ("/v1/forecast/revenue", {"granularity": "hour", "periods": "169"}, "periods"),
        ("/v1/backtest/revenue", {"folds": "0"}, "folds"),
        ("/v1/analytics/revenue", {"granularity": "fortnight"}, "granularity"),
        ("/v1/analytics/revenue", {"start": "yesterday"}, "start"),
        ("/v1/analytics/revenue", {"start": "2026-03-01", "end": "2026-02-01"}, "start"),
        ("/v1/analytics/revenue", {"limit": "3"}, "limit"),
        ("/v1/analytics/top_products_by_views", {"limit": "100000"}, "limit"),
        ("/v1/analytics/event_counts", {}, "event_name"),
    ]
    async with make_forecaster(store) as (app, http):
        for url, params, name in cases:
            r = await http.get(url, params=params)
            assert r.status_code == 422, (url, params, r.text)
            assert r.json()["error"] == "invalid_parameter" and r.json()["parameter"] == name, r.text
        assert (await http.get("/v1/analytics/no_such_kpi")).status_code == 404


async def test_too_little_history_is_422_with_how_much_is_needed(chdb, make_forecaster):
    store = StoreSettings(dsn=chdb.dsn, database=unique("young"))
    client = chdb.client()
    load(client, store, webshop_events(5, NOW, seed=3, base_sessions=50), dup_ratio=0)
    client.close()
    async with make_forecaster(store) as (app, http):
        r = await http.get("/v1/forecast/revenue")
        hourly = await http.get("/v1/forecast/revenue", params={"granularity": "hour"})
        bt = await http.get("/v1/backtest/revenue", params={"horizon": "7", "folds": "1"})
    assert r.status_code == 422
    assert r.json() | {"message": ""} == {
        "error": "insufficient_history",
        "message": "",
        "needed": 14,
        "have": 5,
        "granularity": "day",
    }
    assert "at least 14" in r.json()["message"]
    assert hourly.status_code == 200  # 5 days = 135 complete hours >= 72
    assert bt.status_code == 422 and bt.json()["needed"] == 21  # 14 to train + 7 held out


async def test_models_are_cached_until_their_refresh_interval(shop, make_forecaster):
    store, _ = shop
    clock = Clock(NOW)
    async with make_forecaster(store, clock=clock, refresh="revenue=6h") as (app, http):
        first = (await http.get("/v1/forecast/revenue")).json()
        clock.now = NOW + timedelta(hours=5)
        second = (await http.get("/v1/forecast/revenue")).json()
        clock.now = NOW + timedelta(hours=6, minutes=1)
        third = (await http.get("/v1/forecast/revenue")).json()
        fits = samples((await http.get("/metrics")).text)
    assert first["model"]["fitted_at"] == second["model"]["fitted_at"] == "2026-03-04T15:00:00Z"
    assert third["model"]["fitted_at"] == "2026-03-04T21:01:00Z"
    key = ("forecaster_model_fits_total", (("granularity", "day"), ("metric", "revenue"), ("outcome", "ok")))
    assert fits[key] == 2


async def test_analytics_endpoint_serves_the_sql_results(shop, make_forecaster, chdb):
    store, events = shop
    async with make_forecaster(store) as (app, http):
        listing = (await http.get("/v1/analytics")).json()
        r = await http.get("/v1/analytics/revenue", params={"start": "2026-02-20", "end": "2026-03-01T00:00:00Z"})
        default = await http.get("/v1/analytics/dau")
        funnel = await http.get("/v1/analytics/funnel", params={"start": "2026-02-01", "window_seconds": "86400"})
    assert {q["name"] for q in listing["queries"]} >= {"dau", "funnel", "revenue", "retention_cohorts"}
    funnel_info = next(q for q in listing["queries"] if q["name"] == "funnel")
    assert funnel_info["parameters"] == ["steps", "window_seconds", "start", "end"]
    assert r.status_code == 200
    body = r.json()
    assert body["parameters"] == {"start": "2026-02-20T00:00:00Z", "end": "2026-03-01T00:00:00Z", "granularity": "day"}
    assert body["columns"] == ["bucket", "revenue", "orders", "average_order_value"]
    from tests.integration.shopdata import utc

    expected = Reference(events, utc(2026, 2, 20), utc(2026, 3, 1)).revenue("day")
    assert [(row["bucket"], row["revenue"], row["orders"]) for row in body["rows"]] == [
        (b.isoformat() + "Z", rev, n) for b, rev, n, _ in expected
    ]
    # defaults: the 30 days before the next midnight of the service clock
    assert default.json()["parameters"] == {"start": "2026-02-03T00:00:00Z", "end": "2026-03-05T00:00:00Z"}
    assert len(default.json()["rows"]) == 30
    assert [s["users"] for s in funnel.json()["rows"]] == sorted(
        (s["users"] for s in funnel.json()["rows"]), reverse=True
    )


async def test_backtest_endpoint(shop, make_forecaster):
    store, _ = shop
    async with make_forecaster(store) as (app, http):
        r = await http.get("/v1/backtest/revenue", params={"horizon": "7", "folds": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["folds"], body["points"], body["season"]) == (3, 21, 7)
    assert 0 < body["mape"] < 0.5 and body["mase"] > 0 and body["naive_mape"] > 0


async def test_anomaly_gauges_hold_the_independently_computed_values(shop, make_forecaster):
    store, events = shop
    # selection folds of 5 days: 42 days hold 5 of them, enough for a held-out (leave-one-fold-out) coverage
    async with make_forecaster(
        store, metrics="revenue,orders,dau,signups,events:add_to_cart", backtest_horizon_days=5
    ) as (app, http):
        ran = await app.state.forecaster.scheduler.tick()
        text = (await http.get("/metrics")).text
        ready = await http.get("/health/ready")
    assert ran == [
        "refresh:revenue",
        "refresh:orders",
        "refresh:dau",
        "refresh:signups",
        "refresh:events:add_to_cart",
        "evaluate",
        "rollups",
    ]
    assert ready.status_code == 200, ready.text
    g = {(name, dict(labels).get("metric")): v for (name, labels), v in samples(text).items()}
    window = [e for e in events if NOW - timedelta(hours=24) <= ts(e) < NOW]
    purchases = [e for e in window if e["event_name"] == "purchase_completed"]
    assert (
        g[("forecaster_metric_actual", "revenue")]
        == sum(cents(e["properties"]["total_value"]) for e in purchases) / 100
    )
    assert g[("forecaster_metric_actual", "orders")] == len(purchases)
    assert g[("forecaster_metric_actual", "dau")] == len({e["user_id"] for e in window})
    assert g[("forecaster_metric_actual", "signups")] == sum(e["event_name"] == "user_signup" for e in window)
    assert g[("forecaster_metric_actual", "events:add_to_cart")] == sum(
        e["event_name"] == "add_to_cart" for e in window
    )
    today = NOW.replace(hour=0)
    week = [e for e in events if today - timedelta(days=7) <= ts(e) < today and e["event_name"] == "purchase_completed"]
    assert (
        g[("forecaster_metric_moving_average_7d", "revenue")]
        == sum(cents(e["properties"]["total_value"]) for e in week) / 100 / 7
    )
    every = samples(text)
    for metric in ("revenue", "orders", "dau", "signups", "events:add_to_cart"):
        labels = (("granularity", "day"), ("metric", metric))
        selected = {
            dict(k[1])["model"]: v
            for k, v in every.items()
            if k[0] == "forecaster_model_selected" and ("metric", metric) in k[1]
        }
        served = app.state.forecaster.service.models[(metric, "day")]
        assert selected == {
            c: float(c == served.backtest.chosen)
            for c in (
                "prophet",
                "ets",
                "seasonal_naive_week",
                "seasonal_naive_day",
                "ensemble",
                "baseline_median",
                "seasonal_median",
                "pool_blend",
            )
        }
        # the gauges hold the served model's fold scores and the held-out coverage of its calibrated band
        assert every[("forecaster_backtest_relative_mae", labels)] == served.backtest.score.relative_mae > 0
        # at least the 5 recent folds the rule needs, each of the 5-day horizon
        assert served.backtest.folds >= 5 and served.backtest.calibration.scores == served.backtest.folds * 5
        assert every[("forecaster_band_coverage", labels)] == served.backtest.calibration.coverage
        assert 0.5 <= served.backtest.calibration.coverage <= 1
    for metric in ("revenue", "orders", "dau", "signups"):
        lo, mid, hi = (g[(f"forecaster_metric_{k}", metric)] for k in ("lower", "expected", "upper"))
        assert 0 <= lo <= mid <= hi
        assert lo < g[("forecaster_metric_actual", metric)] < hi, metric  # ordinary traffic is inside the band
    hour = [e for e in events if NOW - timedelta(hours=1) <= ts(e) < NOW]
    failed = sum(e["event_name"] == "payment_failed" for e in hour)
    attempts = failed + sum(e["event_name"] == "purchase_completed" for e in hour)
    assert g[("forecaster_payment_attempts", None)] == attempts
    assert g[("forecaster_payment_failure_ratio", None)] == (failed / attempts if attempts else 0)
    assert 0 < g[("forecaster_payment_failure_ratio_7d", None)] < 0.2
    assert g[("forecaster_ready", None)] == 1
