"""The freshness and write plumbing shared by the per-day rollups: the web sessions (store/web.py:
web_sessions, marker table web_session_days) and the business page's (store/business.py:
business_users and business_products, marker table business_days).

A rollup stores each computation of a UTC day under a `version`, in its data tables and as one row of
its marker table; readers take each day's highest marked version. `DayRollup.refresh(first, until)`:

1. reads, for each day of [first, until) with events, what its events are now (newest `inserted_at`
   in ms and row count, no FINAL: the events' day_versions projection answers both) and what the
   day's newest computation saw of them (queries/console/day_versions.sql);
2. a day is stale when it was never computed or either figure differs. The newest stamp alone is not
   enough: `inserted_at` is stamped by a consumer before its insert commits, so with two consumers
   (or skewed clocks) a batch stamped t1 can become visible after one stamped t2 > t1 and leave the
   day's newest stamp unchanged; it still changes the row count. A background merge collapsing
   redelivered duplicates lowers the count too: one more (harmless) computation of that day. Not
   caught: an insert and a merge of the same day that change the count by exactly opposite amounts
   between two checks and bring no newer stamp;
3. computes the stale days (the rollup's `compute` callback, `chunk` days per call) under a version
   unique and increasing per day, max(newest stamp seen, previous version + 1), so a recomputation
   that saw the same newest stamp never shares a version with the rows of the one before;
4. marks them (day, version, seen_newest, seen_events) and deletes the rows of their older versions.

The figures are read before computing: rows committed meanwhile may be counted by the computation
but not in what it saw, which only causes one more computation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from observatory.store.analytics import Analytics
from observatory.store.client import render


@dataclass(frozen=True)
class StaleDay:
    day: date
    version: int  # the version this computation writes
    newest: int  # the newest inserted_at (ms) of the day's events seen before computing
    events: int  # their row count then (no FINAL)
    previous: int  # the version stored before (0: never computed)


def stale_days(rows: Sequence[Sequence[Any]]) -> list[StaleDay]:
    """Rows of day_versions.sql (day, newest, n_events, stored, stored_newest, stored_events) -> the
    days to compute, each with its new version."""
    out = []
    for day, newest, events, version, seen_newest, seen_events in rows:
        if version and newest == seen_newest and events == seen_events:
            continue
        out.append(StaleDay(day, max(int(newest), int(version) + 1), int(newest), int(events), int(version)))
    return out


class DayRollup:
    """`events`: a condition on the events table choosing the rollup's events (SQL text of the caller's,
    never a request's); `days_table`: its marker table; `tables`: its data tables (columns day, version);
    `compute(days)`: writes the rows of those days, each under its StaleDay.version."""

    def __init__(
        self,
        analytics: Analytics,
        events: str,
        days_table: str,
        tables: tuple[str, ...],
        compute: Callable[[list[StaleDay]], None],
        chunk: int = 1,
    ) -> None:
        self.analytics = analytics
        versions = resources.files("observatory.store").joinpath("queries", "console", "day_versions.sql")
        self.versions_sql = render(versions.read_text(), db=analytics.database, days_table=days_table, events=events)
        self.days_table = days_table
        self.tables = tables
        self.compute = compute
        self.chunk = chunk
        self._refreshing = threading.Lock()  # one writer of the rollup per process

    def stale(self, first: date, until: date) -> list[StaleDay]:
        rows = self.analytics.client.query(self.versions_sql, parameters={"first": first, "until": until}).result_rows
        return stale_days(rows)

    def refresh(self, first: date, until: date) -> int:
        """Compute the days of [first, until) whose events changed since their newest computation (or
        that have none); returns how many days were computed."""
        if not self.stale(first, until):
            return 0
        with self._refreshing:
            stale = self.stale(first, until)  # again: another request may have computed them
            for i in range(0, len(stale), self.chunk):  # bounded memory on a first load of a long history
                chunk = stale[i : i + self.chunk]
                self.compute(chunk)
                self._mark(chunk)
                self._delete_older([d for d in chunk if d.previous])
        return len(stale)

    def _mark(self, days: list[StaleDay]) -> None:
        db = self.analytics.database
        self.analytics.client.command(
            f"INSERT INTO {db}.{self.days_table} (day, version, seen_newest, seen_events, computed_at) "
            "SELECT d.1, d.2, d.3, d.4, now64(3) FROM (SELECT arrayJoin(arrayZip({days:Array(Date)}, "
            "{versions:Array(UInt64)}, {newest:Array(UInt64)}, {events:Array(UInt64)})) AS d)",
            parameters={
                "days": [d.day for d in days],
                "versions": [d.version for d in days],
                "newest": [d.newest for d in days],
                "events": [d.events for d in days],
            },
        )

    def _delete_older(self, days: list[StaleDay]) -> None:
        """Readers already take the newest version; the older rows go (a lightweight delete), so a day
        recomputed all day long (today, under live traffic) keeps one copy."""
        if not days:
            return
        bound = {"days": [d.day for d in days], "versions": [d.version for d in days]}
        for table in self.tables:
            self.analytics.client.command(
                f"DELETE FROM {self.analytics.database}.{table} WHERE day IN {{days:Array(Date)}} "
                "AND version < transform(day, {days:Array(Date)}, {versions:Array(UInt64)}, toUInt64(0))",
                parameters=bound,
            )
