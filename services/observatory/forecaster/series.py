"""Business metrics as time series, read through the analytics queries (same SQL as the dashboards).

Metrics: revenue, orders, dau (active users per bucket: DAU for day, hourly actives for hour),
signups, and `events:<event_name>` (events per bucket). Series hold complete buckets only (the
current, partial bucket is left out) from the first bucket holding any event, gaps filled with 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from observatory.store.analytics import Analytics, QueryResult, utc

BASE_METRICS = ("revenue", "orders", "dau", "signups")
GRANULARITIES = ("day", "hour")
STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_EVENT = re.compile(r"^events:([A-Za-z0-9_.-]{1,200})$")


class UnknownMetric(KeyError):
    pass


@dataclass(frozen=True)
class MetricSource:
    metric: str
    query: str  # analytics query name
    column: str  # value column in its result
    extra: tuple = ()  # extra parameters ((name, value), ...)


def source(metric: str) -> MetricSource:
    if metric == "revenue":
        return MetricSource(metric, "revenue", "revenue")
    if metric == "orders":
        return MetricSource(metric, "revenue", "orders")
    if metric == "dau":
        return MetricSource(metric, "active_users", "active_users")
    if metric == "signups":
        return MetricSource(metric, "event_counts", "events", (("event_name", "user_signup"),))
    m = _EVENT.match(metric)
    if m:
        return MetricSource(metric, "event_counts", "events", (("event_name", m.group(1)),))
    raise UnknownMetric(metric)


def bucket_start(t: datetime, granularity: str) -> datetime:
    t = utc(t)
    if granularity == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _naive(t: datetime) -> datetime:
    return utc(t).replace(tzinfo=None)


def window_total(analytics: Analytics, metric: str, start: datetime, end: datetime) -> float:
    """The metric over [start, end) as one number (dau: distinct users in the window)."""
    if metric in ("revenue", "orders", "dau", "signups"):
        row = analytics.run("kpi_summary", start=start, end=end).dicts()[0]
        return float(
            row[{"revenue": "revenue", "orders": "orders", "dau": "active_users", "signups": "signups"}[metric]]
        )
    src = source(metric)
    rows = analytics.run(src.query, start=start, end=end, granularity="month", **dict(src.extra)).dicts()
    return float(sum(r[src.column] for r in rows))


def data_start(analytics: Analytics, since: datetime) -> datetime | None:
    """Time of the first stored event after `since` (no FINAL: a duplicate cannot lower a minimum)."""
    rows = analytics.client.query(
        f"SELECT min(timestamp), count() FROM {analytics.database}.events WHERE timestamp >= {{since:DateTime64(3)}}",
        parameters={"since": utc(since).strftime("%Y-%m-%d %H:%M:%S")},
    ).result_rows
    if not rows or not rows[0][1]:
        return None
    return utc(rows[0][0])


def load_series(
    analytics: Analytics,
    metric: str,
    granularity: str,
    now: datetime,
    lookback: int,
    first: datetime | None = None,
    run: Callable[..., QueryResult] | None = None,
) -> pd.DataFrame:
    """Complete buckets of `metric` before the bucket holding `now`, at most `lookback` of them,
    starting at the first bucket with any event. Columns ds (naive UTC) and y. `run`: what answers the
    metric's analytics query (default analytics.run; the forecaster passes its business day rollup,
    BusinessRollup.answer, which answers whole-day ranges from the rollup and the rest from the SQL)."""
    src = source(metric)
    step = STEP[granularity]
    end = bucket_start(now, granularity)
    start = end - lookback * step
    first = first if first is not None else data_start(analytics, start)
    if first is None or first >= end:
        return pd.DataFrame({"ds": pd.Series([], dtype="datetime64[ns]"), "y": pd.Series([], dtype=float)})
    start = max(start, bucket_start(first, granularity))
    rows = (run or analytics.run)(src.query, start=start, end=end, granularity=granularity, **dict(src.extra)).dicts()
    values = {_naive(r["bucket"]): float(r[src.column]) for r in rows}
    index = pd.date_range(_naive(start), _naive(end) - step, freq="h" if granularity == "hour" else "D")
    return pd.DataFrame({"ds": index, "y": [values.get(ts.to_pydatetime(), 0.0) for ts in index]})


def as_utc(ts) -> datetime:
    """pandas Timestamp / naive datetime (UTC) -> aware datetime."""
    if isinstance(ts, pd.Timestamp):
        ts = ts.to_pydatetime()
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
