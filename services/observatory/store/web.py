"""The web analytics page's data in one request: every panel from one sessions pass
(queries/console/overview_panels.sql), the previous period's totals (overview_totals.sql), and the live
visitors figure (web_live.sql). Filters are bound as ClickHouse server-side parameters (never pasted
into the SQL); '' means "no filter".

`overview()` returns the JSON of `GET /v1/web/overview` (docs/analytics.md, "Console read API").
"""

from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from clickhouse_connect.driver.query import QueryResult

from observatory.store.analytics import Analytics, QueryFileError, _bind, _fragment, expand_includes, utc, utc_midnight
from observatory.store.client import render
from observatory.store.rollup import DayRollup, StaleDay
from observatory.store.web_request import WebRequest

# the overview's independent reads are sent at once (a few per request; see overview())
_READS = ThreadPoolExecutor(max_workers=6, thread_name_prefix="web-overview")

# panel name -> the GROUPING SETS key it is grouped by (order of grouping(...) in overview_panels.sql)
KEYS = (
    "bucket",
    "entry_page",
    "exit_page",
    "source",
    "referrer",
    "campaign",
    "device",
    "browser",
    "os",
    "country",
    "page",
)
PANELS = {
    "entry_pages": "entry_page",
    "exit_pages": "exit_page",
    "sources": "source",
    "referrers": "referrer",
    "utm_campaigns": "campaign",
    "devices": "device",
    "browsers": "browser",
    "os": "os",
    "countries": "country",
}
# the web rollup's events (a day is recomputed when these changed; store/rollup.py)
WEB_EVENTS = "event_name IN ('$pageview', '$pageleave')"
TOTALS = ("visitors", "pageviews", "sessions", "bounces", "bounce_rate", "avg_session_duration_s", "pages_per_session")


# include/sessions.sql -> the console's sessions: + page_views Array(String), each pageview's path. Added
# by rewriting the shared text (asserted to match), not in it: the path in branch 2's sorted tuple makes
# every other web query pay for it (web_overview over 10M events: 0.77 -> 1.29 s).
PAGE_VIEWS = (
    (
        "event_name = '$$pageview') AS site\n",
        "event_name = '$$pageview') AS site,\n        groupArrayIf(page_path, event_name = '$$pageview') AS page_views\n",
    ),
    (
        "sites[first_view] AS site\n",
        "sites[first_view] AS site,\n        arrayMap(e -> e.5, arrayFilter(e -> e.2, s)) AS page_views\n",
    ),
    ("arrayEnumerate(ts))) AS events", "arrayEnumerate(ts), groupArray(page_path))) AS events"),
)


def _rewrite(sql: str, edits: tuple[tuple[str, str], ...], source: str) -> str:
    """`sql` with each (old, new) of `edits` replaced; each `old` must stand exactly once in it."""
    for old, new in edits:
        if sql.count(old) != 1:
            raise QueryFileError(f"{source} changed: {old.strip()!r} not found once (store/web.py)")
        sql = sql.replace(old, new)
    return sql


def console_sessions(sessions: str) -> str:
    return _rewrite(sessions, PAGE_VIEWS, "include/sessions.sql")


# Over the rollup the pages panel is its own read (overview_pages.sql), so the panels pass leaves the
# pageview paths unread there (asserted to match once; 10M events, shared machine: 2.2 -> 1.6 s).
NO_PAGE_PASS = (
    ("if(i = 0, '', page_views[i]) AS page", "'' AS page"),
    ("ARRAY JOIN range(length(page_views) + 1) AS i", "ARRAY JOIN [0] AS i"),
)


def without_pages(sql: str) -> str:
    return _rewrite(sql, NO_PAGE_PASS, "console/overview_panels.sql")


@cache
def console_sql(name: str, stored: bool = False) -> str:
    """queries/console/<name>.sql with its includes expanded (not an /v1/analytics query): those of
    queries/include/ (`sessions` with page_views: console_sessions) and `kept` (console/kept.sql);
    `stored`: `-- @include sessions` reads the day rollup (console/stored_sessions.sql) instead, and
    overview_panels has no pages set (without_pages)."""
    folder = resources.files("observatory.store").joinpath("queries")
    console = folder.joinpath("console")
    includes = {
        e.name[:-4]: _fragment(e.name[:-4], e.read_text())
        for e in folder.joinpath("include").iterdir()
        if e.name.endswith(".sql")
    }
    includes["sessions"] = console_sessions(includes["sessions"])
    includes["kept"] = _fragment("kept", console.joinpath("kept.sql").read_text())
    if stored:
        includes["sessions"] = _fragment("stored_sessions", console.joinpath("stored_sessions.sql").read_text())
    sql = expand_includes(console.joinpath(f"{name}.sql").read_text(), f"console/{name}.sql", includes)
    return without_pages(sql) if stored and name == "overview_panels" else sql


def _iso(t: datetime) -> str:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.isoformat().replace("+00:00", "Z")


def _totals(visitors: int, pageviews: int, sessions: int, bounces: int, duration_sum: float) -> dict[str, Any]:
    return {
        "visitors": int(visitors),
        "pageviews": int(pageviews),
        "sessions": int(sessions),
        "bounces": int(bounces),
        "bounce_rate": bounces / sessions if sessions else 0.0,
        "avg_session_duration_s": duration_sum / sessions if sessions else 0.0,
        "pages_per_session": pageviews / sessions if sessions else 0.0,
    }


def change(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, float | None]:
    """Relative change per total (null when the previous value is 0); bounce_rate: the difference."""
    out: dict[str, float | None] = {}
    for k in TOTALS:
        if k == "bounce_rate":
            out[k] = current[k] - previous[k]
        else:
            out[k] = (current[k] - previous[k]) / previous[k] if previous[k] else None
    return out


def _mask(key: str) -> int:
    """grouping(...)'s value for the rows grouped by `key` alone: all bits but its own."""
    n = len(KEYS)
    return (1 << n) - 1 - (1 << (n - 1 - KEYS.index(key)))


def _breakdown(rows: list[dict[str, Any]], key: str, limit: int) -> list[dict[str, Any]]:
    found = [
        {
            "value": r[key],
            "sessions": int(r["sessions"]),
            "visitors": int(r["visitors"]),
            "pageviews": int(r["pageviews"]),
            "bounce_rate": r["bounces"] / r["sessions"] if r["sessions"] else 0.0,
        }
        for r in rows
        if r["g"] == _mask(key) and r["sessions"]
    ]
    return sorted(found, key=lambda p: (-p["sessions"], p["value"]))[:limit]


def _describe(req: WebRequest) -> str:
    where = " with " + ", ".join(f"{k}={v}" for k, v in req.filters.items()) if req.filters else ""
    return f"no pageviews between {_iso(req.start)} and {_iso(req.end)}{where}"


class WebOverview:
    """`rollup`: ranges of whole UTC days read the day rollup (web_sessions, migration 0006), bringing
    the days whose web events changed up to date first; other ranges compute the sessions from the
    events in the request."""

    def __init__(self, analytics: Analytics, rollup: bool = True) -> None:
        self.analytics = analytics
        self.rollup = rollup
        self.day_rollup = DayRollup(analytics, WEB_EVENTS, "web_session_days", ("web_sessions",), self._compute)

    def _query(self, name: str, params: dict[str, Any], stored: bool = False) -> QueryResult:
        sql = render(console_sql(name, stored), db=self.analytics.database)
        return self.analytics.client.query(sql, parameters=params)

    def _submit(self, name: str, params: dict[str, Any], stored: bool) -> Future[QueryResult]:
        """_query in the read pool, in this request's context (its trace span stays the parent)."""
        return _READS.submit(contextvars.copy_context().run, self._query, name, params, stored)

    def refresh(self, start: datetime, end: datetime) -> int:
        """Compute the sessions of each whole day of [start, end) whose web events changed since its
        newest computation (or that has none; store/rollup.py); returns how many days were computed."""
        return self.day_rollup.refresh(utc(start).date(), utc(end).date())

    def _compute(self, days: list[StaleDay]) -> None:
        """day_insert.sql for each day: its sessions under the day's new version."""
        sql = render(console_sql("day_insert"), db=self.analytics.database)
        for d in days:
            first = datetime(d.day.year, d.day.month, d.day.day, tzinfo=UTC)
            bound = {"start": _bind(first), "end": _bind(first + timedelta(days=1)), "version": d.version}
            self.analytics.client.command(sql, parameters=bound)

    def overview(self, req: WebRequest) -> dict[str, Any]:
        stored = self.rollup and utc_midnight(req.start) and utc_midnight(req.end)
        if stored:
            self.refresh(req.previous[0], req.end)
        # The panels, the previous period's totals and (from the rollup, cheaper than a pages set in the
        # same pass) the pages panel are independent reads, sent at once: a ClickHouse server runs them side
        # by side; the embedded chDB client takes one query at a time (a lock per client), so there they queue.
        previous_bound = req.bound(*req.previous)
        del previous_bound["granularity"]
        pages_bound = {**req.bound(req.start, req.end), "limit": req.limit}
        del pages_bound["granularity"]
        panels_f = self._submit("overview_panels", req.bound(req.start, req.end), stored)
        prev_f = self._submit("overview_totals", previous_bound, stored)
        pages_f = self._submit("overview_pages", pages_bound, stored) if stored else None
        result = panels_f.result()
        rows = [dict(zip(result.column_names, r)) for r in result.result_rows]
        all_bits = (1 << len(KEYS)) - 1
        total = next((r for r in rows if r["g"] == all_bits), None)
        totals = (
            _totals(*(total[k] for k in ("visitors", "pageviews", "sessions", "bounces", "duration_sum")))
            if total
            else _totals(0, 0, 0, 0, 0.0)
        )
        previous = _totals(*prev_f.result().result_rows[0])
        series = [
            {
                "bucket": _iso(r["bucket"]),
                **{
                    k: v
                    for k, v in _totals(
                        r["visitors"], r["pageviews"], r["sessions"], r["bounces"], r["duration_sum"]
                    ).items()
                    if k != "pages_per_session"
                },
            }
            for r in sorted((r for r in rows if r["g"] == _mask("bucket")), key=lambda r: r["bucket"])
        ]
        out: dict[str, Any] = {
            "range": {
                "start": _iso(req.start),
                "end": _iso(req.end),
                "previous_start": _iso(req.previous[0]),
                "previous_end": _iso(req.previous[1]),
                "granularity": req.granularity,
            },
            "filters": req.filters,
            "totals": totals,
            "previous": previous,
            "change": change(totals, previous),
            "series": series,
        }
        if pages_f is not None:
            top = pages_f.result().result_rows
            pages = [{"value": p, "pageviews": int(n), "visitors": int(u)} for p, n, u in top]
        else:
            pages = [
                {"value": r["page"], "pageviews": int(r["page_pageviews"]), "visitors": int(r["page_visitors"])}
                for r in rows
                if r["g"] == _mask("page") and r["page_pageviews"]
            ]
        out["pages"] = sorted(pages, key=lambda p: (-p["pageviews"], p["value"]))[: req.limit]
        for panel, key in PANELS.items():
            out[panel] = _breakdown(rows, key, req.limit)
        out["message"] = None if totals["sessions"] else _describe(req)
        return out

    def live(self, now: datetime, minutes: int, site: str = "") -> dict[str, Any]:
        since = now - timedelta(minutes=minutes)
        visitors = self._query("web_live", {"since": _bind(since), "until": _bind(now), "site": site}).result_rows[0][0]
        return {
            "visitors": int(visitors),
            "minutes": minutes,
            "since": _iso(since),
            "as_of": _iso(now),
            "message": None
            if visitors
            else f"no pageviews in the last {minutes} minutes" + (f" from site {site}" if site else ""),
        }
