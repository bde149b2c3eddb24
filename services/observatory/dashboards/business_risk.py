"""The lower rows of Observatory / Business KPIs (business.json): web traffic and churn risk from
ClickHouse (the web_overview, web_traffic and churn_segments analytics queries) and the forecaster's
anomaly gauges from Prometheus."""

from __future__ import annotations

from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import CH, ch_bargauge, ch_table, daily, src, stat, ts, wrap


def web_traffic_and_churn(d: Dash) -> None:
    d.row("Web traffic and churn risk")
    for title, col, unit, th, dec in (
        ("Visitors", "visitors", "short", None, 0),
        ("Sessions", "sessions", "short", None, 0),
        ("Bounce rate", "bounce_rate", "percentunit", [("green", None), ("orange", 0.5), ("red", 0.7)], 1),
        ("Avg session duration", "avg_session_duration_s", "s", None, 0),
    ):
        d.add(
            src(
                stat(
                    title,
                    None,
                    unit,
                    ds=CH,
                    th=th,
                    decimals=dec,
                    sql=wrap(col, "web_overview"),
                    desc="Sessions: session id, else 30 minutes of inactivity per user; bounce = one pageview",
                ),
                "web_overview",
            ),
            3,
            4,
        )
    d.add(
        src(
            stat(
                "Active users at risk of churning",
                None,
                "short",
                ds=CH,
                decimals=0,
                sql=wrap("at_risk", "churn_segments") + "\nWHERE segment = 'all'",
                desc="Users of the newest monthly churn scoring with a churn probability >= 50%",
            ),
            "churn_segments",
        ),
        6,
        4,
    )
    d.add(
        src(
            stat(
                "Mean churn probability",
                None,
                "percentunit",
                ds=CH,
                decimals=1,
                th=[("green", None), ("orange", 0.15), ("red", 0.3)],
                sql=wrap("mean_probability", "churn_segments") + "\nWHERE segment = 'all'",
            ),
            "churn_segments",
        ),
        6,
        4,
    )
    d.add(
        daily("Sessions and visitors per day", "sessions, visitors", "web_traffic", "short"),
        12,
        8,
    )
    d.add(
        daily("Bounce rate per day", "bounce_rate", "web_traffic", "percentunit"),
        12,
        8,
    )
    d.add(
        src(
            ch_bargauge(
                "Churn risk by plan, device and source (mean probability)",
                wrap(
                    "concat(segment, ': ', if(value = '', 'unknown', value)) AS segment_value, mean_probability",
                    "churn_segments",
                )
                + "\nWHERE segment IN ('plan', 'device_type', 'source')\nORDER BY segment_value",
                unit="percentunit",
                desc="Newest monthly churn scoring (logistic regression on six months of engagement)",
            ),
            "churn_segments",
        ),
        12,
        9,
    )
    d.add(
        src(
            ch_table(
                "Churn risk by country",
                wrap("value AS country, users, mean_probability, at_risk", "churn_segments")
                + "\nWHERE segment = 'country'\nORDER BY users DESC",
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "mean_probability"},
                        "properties": [{"id": "unit", "value": "percentunit"}],
                    }
                ],
            ),
            "churn_segments",
        ),
        12,
        9,
    )


def forecaster_gauges(d: Dash) -> None:
    d.row("Forecaster: anomaly gauges (Prometheus)")
    d.add(
        ts(
            "Revenue, trailing 24 h: actual vs forecast band",
            [
                ('max(forecaster_metric_actual{metric="revenue"})', "actual"),
                ('max(forecaster_metric_expected{metric="revenue"})', "expected"),
                ('max(forecaster_metric_lower{metric="revenue"})', "lower"),
                ('max(forecaster_metric_upper{metric="revenue"})', "upper"),
            ],
            "currencyEUR",
            desc="The forecaster's anomaly gauges: revenue of the last 24 hours against the forecast for the same window; outside lower..upper the business alerts fire",
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Actual / expected by metric",
            [
                (
                    "max by (metric) (forecaster_metric_actual) / max by (metric) (forecaster_metric_expected > 0)",
                    "{{metric}}",
                )
            ],
            "percentunit",
            th=[("red", None), ("orange", 0.7), ("green", 0.85), ("orange", 1.2), ("red", 1.5)],
            desc="1 = exactly as forecast",
        ),
        12,
        8,
    )
    d.add(
        stat(
            "Revenue model age",
            'time() - max(forecaster_model_fitted_timestamp_seconds{metric="revenue"})',
            "s",
            th=[("green", None), ("orange", 2 * 86400), ("red", 3 * 86400)],
            desc="Models are refitted daily; older means the scheduler is stuck",
        ),
        6,
        5,
    )
    d.add(
        stat(
            "Anomaly gauges age",
            "time() - max(forecaster_anomaly_evaluation_timestamp_seconds)",
            "s",
            th=[("green", None), ("orange", 300), ("red", 900)],
        ),
        6,
        5,
    )
    d.add(
        ts(
            "Backtest error (MAPE)",
            [("max by (metric) (forecaster_backtest_mape)", "{{metric}}")],
            "percentunit",
            th=[("green", None), ("orange", 0.2), ("red", 0.4)],
            desc="Holdout error of the last fit of each daily model",
        ),
        6,
        5,
    )
    d.add(
        ts(
            "Payment failure ratio vs 7-day baseline",
            [
                ("max(forecaster_payment_failure_ratio)", "last window"),
                ("max(forecaster_payment_failure_ratio_7d)", "7-day baseline"),
            ],
            "percentunit",
        ),
        6,
        5,
    )
