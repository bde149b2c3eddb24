"""Observatory / Business KPIs (business.json): webshop KPIs from ClickHouse through the analytics
SQL (services/observatory/store/queries, each panel marked with the query it runs): headline KPIs,
trends with the forecaster's band, the purchase funnel and top products; the lower rows (web
traffic, churn risk, the forecaster's anomaly gauges) are in business_risk."""

from __future__ import annotations

from typing import Any

from observatory.dashboards.business_risk import forecaster_gauges, web_traffic_and_churn
from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import CH, aq, ch_bargauge, ch_table, ch_ts, daily, src, stat, wrap

E = "observatory.events FINAL"
FORECAST_SQL = """SELECT ds AS time, yhat AS forecast, yhat_lower AS lower, yhat_upper AS upper
FROM observatory.forecasts FINAL
WHERE metric = 'revenue' AND granularity = 'day' AND $__timeFilter(ds)
ORDER BY time"""
EVENTS_PER_DAY_SQL = f"""
SELECT toStartOfDay(timestamp) AS time, event_name, count() AS events
FROM {E}
WHERE $__timeFilter(timestamp)
GROUP BY time, event_name
ORDER BY time"""


def forecast_band() -> list[dict[str, Any]]:
    """Overrides of the revenue panel: the forecast dashed, lower..upper filled between, the actual solid."""
    return [
        {
            "matcher": {"id": "byName", "options": "lower"},
            "properties": [
                {"id": "custom.fillBelowTo", "value": "upper"},
                {"id": "custom.lineWidth", "value": 0},
                {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}},
                {"id": "custom.fillOpacity", "value": 20},
            ],
        },
        {
            "matcher": {"id": "byName", "options": "upper"},
            "properties": [
                {"id": "custom.lineWidth", "value": 0},
                {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}},
            ],
        },
        {
            "matcher": {"id": "byName", "options": "forecast"},
            "properties": [
                {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}},
            ],
        },
        {
            "matcher": {"id": "byName", "options": "actual"},
            "properties": [
                {"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}},
                {"id": "custom.lineWidth", "value": 2},
            ],
        },
    ]


def dashboard() -> Dash:
    d = Dash(
        "observatory-business",
        "Observatory / Business KPIs",
        "Webshop KPIs from ClickHouse (the analytics SQL of services/observatory/store/queries): active users, revenue, orders, conversion, funnel, top products, and the forecaster's band.",
        ["business"],
        time_from="now-30d",
        refresh="5m",
    )
    d.row("Headline KPIs (dashboard range)")
    for title, col, unit, th, dec in (
        ("Revenue", "revenue", "currencyEUR", None, 2),
        ("Orders", "orders", "short", None, 0),
        ("Average order value", "average_order_value", "currencyEUR", None, 2),
        ("Purchase conversion", "purchase_conversion", "percentunit", None, 1),
        (
            "Payment failure rate",
            "payment_failure_rate",
            "percentunit",
            [("green", None), ("orange", 0.05), ("red", 0.15)],
            1,
        ),
        ("New users", "signups", "short", None, 0),
    ):
        d.add(
            src(stat(title, None, unit, ds=CH, th=th, decimals=dec, sql=wrap(col, "kpi_summary")), "kpi_summary"), 4, 4
        )
    d.row("Trends")
    d.add(
        src(
            ch_ts(
                "Daily active users",
                [wrap("toDateTime(day, 'UTC') AS time, active_users", "dau") + "\nORDER BY time"],
                "short",
                bars=True,
            ),
            "dau",
        ),
        12,
        8,
    )
    d.add(
        daily("Revenue per day", "revenue", "revenue", "currencyEUR", bars=True),
        12,
        8,
    )
    p = ch_ts(
        "Revenue: actual and forecast band",
        [wrap("bucket AS time, revenue AS actual", "revenue", granularity="day") + "\nORDER BY time", FORECAST_SQL],
        "currencyEUR",
        desc="Daily revenue against the forecaster's latest fit and forecast, with its uncertainty band (lower..upper); a day outside the band is an anomaly.",
    )
    p["fieldConfig"]["overrides"] = forecast_band()
    d.add(src(p, "revenue", granularity="day"), 24, 9)
    d.add(
        src(
            ch_ts(
                "New and returning users per day",
                [
                    wrap("bucket AS time, new_users, returning_users", "new_vs_returning", granularity="day")
                    + "\nORDER BY time"
                ],
                "short",
                bars=True,
                stack=True,
            ),
            "new_vs_returning",
            granularity="day",
        ),
        12,
        8,
    )
    d.add(
        daily("Payment failure rate per day", "failure_rate", "payment_failure_rate", "percentunit"),
        12,
        8,
    )
    d.add(
        ch_ts(
            "Events per day by type",
            [EVENTS_PER_DAY_SQL],
            "short",
            stack=True,
            bars=True,
        ),
        24,
        8,
    )
    d.row("Funnel and products")
    d.add(
        src(
            ch_bargauge(
                "Purchase funnel (users, signup to purchase within 7 days)",
                wrap("concat(toString(step), '. ', event_name) AS step_name, users", "funnel", window_seconds=604800)
                + "\nORDER BY step_name",
                desc="Users reaching each step in order within 7 days of their signup",
            ),
            "funnel",
            window_seconds=604800,
        ),
        10,
        9,
    )
    d.add(
        src(
            ch_table(
                "Top products by revenue",
                aq("top_products_by_revenue", limit=10),
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "revenue"},
                        "properties": [
                            {"id": "unit", "value": "currencyEUR"},
                            {"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "gradient"}},
                        ],
                    }
                ],
            ),
            "top_products_by_revenue",
            limit=10,
        ),
        14,
        9,
    )
    web_traffic_and_churn(d)
    forecaster_gauges(d)
    return d
