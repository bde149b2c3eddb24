"""The business page's analytics queries (kpi_summary, wau_mau, revenue, top_products_by_revenue,
retention_cohorts) and the forecasts' history of revenue, orders and dau (revenue, active_users) over a
day rollup (migration 0007): for ranges of whole UTC days the forecaster's `GET /v1/analytics/<name>`
and its metric histories answer from business_users (one row per day and user) and
business_products (per day and product) instead of scanning the raw events, with the same columns
and values as the query in store/queries/<name>.sql (tests/integration/analytics/test_business_rollup.py
compares the two on data with duplicates, replaced rows and late events).

Freshness and writes are shared with the web rollup (store/rollup.py): a day is (re)computed from
`events FINAL` when the newest inserted_at or the row count of its events differs from what its
newest computation saw, so a late, late-committed or redelivered event of a day makes that day be
recomputed before the next answer. Other ranges (not whole days, revenue per hour) and every other
query run the raw SQL (`Analytics.run`).

The funnel (any steps, any range) stays on the raw events; when its first step is a small share of the
step events (the default funnel starts with signups) it reads only the users who did that step
(console/business_funnel.sql), else funnel.sql.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from observatory.store.analytics import (
    FUNNEL_STEPS,
    Analytics,
    QueryResult,
    _bind,
    _fragment,
    expand_includes,
    get_query,
    utc,
    utc_midnight,
)
from observatory.store.client import render
from observatory.store.rollup import DayRollup, StaleDay

SERVED = ("kpi_summary", "wau_mau", "revenue", "top_products_by_revenue", "retention_cohorts", "active_users")
FIRST_STEP_SHARE = 0.25  # the funnel reads only first-step users when that step is at most this share of its events
FIRST_DAY = date(1970, 1, 1)  # retention's cohorts need each user's first day ever
CHUNK_DAYS = 31  # days computed per statement


@cache
def business_sql(name: str) -> str:
    """queries/console/business_<name>.sql with `-- @include business_users` expanded."""
    console = resources.files("observatory.store").joinpath("queries", "console")
    users = _fragment("business_users", console.joinpath("business_users.sql").read_text())
    text = console.joinpath(f"business_{name}.sql").read_text()
    return expand_includes(text, f"console/business_{name}.sql", {"business_users": users})


class BusinessRollup:
    """`answer(name, **params)`: the rollup's answer when it serves that query and range, else the raw
    query's (Analytics.run). `enabled=False` always runs the raw query."""

    def __init__(self, analytics: Analytics, enabled: bool = True) -> None:
        self.analytics = analytics
        self.enabled = enabled
        self.day_rollup = DayRollup(
            analytics,
            "1",  # every event: the business queries read them all
            "business_days",
            ("business_users", "business_products"),
            self._compute,
            chunk=CHUNK_DAYS,
        )

    def serves(self, name: str, params: dict[str, Any]) -> bool:
        if not self.enabled or name not in SERVED:
            return False
        start, end = params.get("start"), params.get("end")
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            return False
        return utc_midnight(start) and utc_midnight(end) and params.get("granularity") != "hour"

    @staticmethod
    def days(name: str, params: dict[str, Any]) -> tuple[date, date]:
        """The days [first, until) the rollup must hold for this query."""
        first, until = utc(params["start"]).date(), utc(params["end"]).date()
        if name == "wau_mau":
            first -= timedelta(days=29)
        if name == "retention_cohorts":
            first = FIRST_DAY
        return first, until

    def refresh(self, first: date, until: date) -> int:
        """Compute the days of [first, until) whose events changed since their newest computation (or
        that have none; store/rollup.py); returns how many days were computed."""
        return self.day_rollup.refresh(first, until)

    def _compute(self, days: list[StaleDay]) -> None:
        """business_users and business_products of up to CHUNK_DAYS days in one statement each."""
        bound = {"days": [d.day for d in days], "versions": [d.version for d in days]}
        for name in ("insert_users", "insert_products"):
            self.analytics.client.command(render(business_sql(name), db=self.analytics.database), parameters=bound)

    def first_step_share(self, params: dict[str, Any]) -> float:
        """The first step's share of the step events in the days around [start, end) (the events'
        day_versions projection answers it): an estimate that picks the funnel's plan."""
        steps = list(params.get("steps") or FUNNEL_STEPS)
        sql = (
            f"SELECT countIf(event_name = {{first:String}}), count() FROM {self.analytics.database}.events "
            "WHERE toDate(timestamp) >= {start:Date} AND toDate(timestamp) <= {end:Date} AND event_name IN {steps:Array(String)}"
        )
        bound = {
            "first": steps[0],
            "start": utc(params["start"]).date(),
            "end": utc(params["end"]).date(),
            "steps": steps,
        }
        first, total = self.analytics.client.query(sql, parameters=bound).result_rows[0]
        return first / total if total else 0.0

    def _funnel(self, params: dict[str, Any]) -> QueryResult:
        """funnel.sql, or console/business_funnel.sql (only the first step's users: the same answer) when
        that step is a small share of the step events (a signup, the default funnel's first step)."""
        if self.first_step_share(params) > FIRST_STEP_SHARE:
            return self.analytics.run("funnel", **params)
        return self._run("funnel", params, {})

    def _run(self, name: str, params: dict[str, Any], extra: dict[str, Any]) -> QueryResult:
        query = get_query(name)
        params = {**params, "steps": list(params.get("steps") or FUNNEL_STEPS)} if name == "funnel" else params
        bound = {k: _bind(params[k]) for k in query.params} | extra
        result = self.analytics.client.query(render(business_sql(name), db=self.analytics.database), parameters=bound)
        return QueryResult(
            name,
            {k: params[k] for k in query.params},
            list(result.column_names),
            [tuple(r) for r in result.result_rows],
        )

    def answer(self, name: str, **params: Any) -> QueryResult:
        if name == "funnel" and self.enabled:
            return self._funnel(params)
        if not self.serves(name, params):
            return self.analytics.run(name, **params)
        first, until = self.days(name, params)
        self.refresh(first, until)
        return self._run(name, params, {"first": first, "until": until})
