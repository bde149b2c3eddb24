"""What the weekly and monthly PDF reports add to the KPI table: web traffic against the previous
period, forecast anomalies of the period, year-over-year KPIs and revenue, churn analysis, and charts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from observatory.reports.chart import bars_png
from observatory.reports.kpis import KpiRow, Period, kpi_table, month_start, year_ago
from observatory.store.analytics import Analytics, utc

WEB_KPIS = (  # (key in web_overview, label, format, higher is better)
    ("visitors", "Visitors", "int", True),
    ("sessions", "Sessions", "int", True),
    ("pageviews", "Pageviews", "int", True),
    ("bounce_rate", "Bounce rate", "pct", False),
    ("avg_session_duration_s", "Average session duration (s)", "float", True),
    ("pages_per_session", "Pages per session", "float", True),
)


@dataclass
class Extras:
    web: list[KpiRow] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)  # day, actual, expected, lower, upper, direction
    anomaly_note: str = ""
    yoy: list[KpiRow] = field(default_factory=list)
    churn: list[dict] = field(default_factory=list)  # churn_segments rows
    churn_cutoff: str | None = None
    charts: list[tuple[str, bytes]] = field(default_factory=list)


def web_table(analytics: Analytics, p: Period) -> list[KpiRow]:
    cur = analytics.run("web_overview", start=p.start, end=p.end).dicts()[0]
    prev = analytics.run("web_overview", start=p.previous_start, end=p.previous_end).dicts()[0]
    return [KpiRow(k, label, fmt, hib, float(cur[k]), float(prev[k])) for k, label, fmt, hib in WEB_KPIS]


def anomalies(frame: pd.DataFrame | None, history: pd.DataFrame, p: Period) -> list[dict]:
    """Days of the period whose actual value lies outside the model's band for that day (`frame`: the
    model's fitted past and forecast, columns ds, yhat, yhat_lower, yhat_upper)."""
    if frame is None:
        return []
    band = frame.set_index("ds")
    out = []
    for row in history.itertuples():
        day = utc(row.ds.to_pydatetime())
        if not p.start <= day < p.end or row.ds not in band.index:
            continue
        b = band.loc[row.ds]
        if row.y < b.yhat_lower or row.y > b.yhat_upper:
            out.append(
                {
                    "day": day.date().isoformat(),
                    "actual": float(row.y),
                    "expected": float(b.yhat),
                    "lower": float(b.yhat_lower),
                    "upper": float(b.yhat_upper),
                    "direction": "below" if row.y < b.yhat_lower else "above",
                }
            )
    return out


def monthly_revenue(analytics: Analytics, end: datetime) -> tuple[list[str], list[float], list[float]]:
    """Revenue of the 12 months before `end` and of the same months a year earlier."""
    start = month_start(end, -24)
    rows = analytics.run("revenue", start=start, end=end, granularity="month").dicts()
    by = {(utc(r["bucket"]).year, utc(r["bucket"]).month): float(r["revenue"]) for r in rows}
    labels, this, last = [], [], []
    for i in range(-12, 0):
        m = month_start(end, i)
        labels.append(m.strftime("%b %y"))
        this.append(by.get((m.year, m.month), 0.0))
        last.append(by.get((m.year - 1, m.month), 0.0))
    return labels, this, last


def churn_rows(analytics: Analytics, now: datetime) -> list[dict]:
    return analytics.run("churn_segments", end=now).dicts()


def build(
    kind: str,
    analytics: Analytics,
    p: Period,
    now: datetime,
    frame: pd.DataFrame | None,
    history: pd.DataFrame,
    metric: str,
    draw: Callable[..., bytes] = lambda chart, *args: chart(*args),
) -> Extras:
    """`draw(chart, *args)` renders a chart (the forecaster's: in its fit worker)."""
    x = Extras(web=web_table(analytics, p))
    x.anomalies = anomalies(frame, history, p)
    x.anomaly_note = (
        "No forecast model: anomalies need one."
        if frame is None
        else f"{metric}: days of the period outside the model's forecast band "
        f"({len(x.anomalies)} of {(p.end - p.start).days})."
    )
    if kind == "monthly":
        x.yoy = kpi_table(analytics, year_ago(p))
        labels, this, last = monthly_revenue(analytics, p.end)
        x.charts.append(
            (
                "Revenue per month, year over year",
                draw(
                    bars_png,
                    labels,
                    {"last 12 months": this, "a year earlier": last},
                    "Revenue per month: last 12 months vs the year before",
                    "revenue",
                ),
            )
        )
        x.churn = churn_rows(analytics, now)
        x.churn_cutoff = str(x.churn[0]["cutoff"]) if x.churn else None
        risk = [r for r in x.churn if r["segment"] in ("plan", "device_type")]
        if risk:
            x.charts.append(
                (
                    "Churn risk by plan and device",
                    draw(
                        bars_png,
                        [f"{r['segment'].replace('device_type', 'device')}: {r['value'] or 'unknown'}" for r in risk],
                        {"mean churn probability": [r["mean_probability"] for r in risk]},
                        "Mean churn probability by segment",
                        "probability",
                    ),
                )
            )
    return x


__all__ = ["Extras", "build", "web_table", "anomalies"]
