"""Pages benchmark: the data of the console's web and business pages over 90 days of generated
events (the webanalytics section's generator: 60% pageviews, 8 events per visit, a quarter of the
visits without a session id), at 1M and at 10M events, in embedded ClickHouse (chDB, FINAL).

- web page: `GET /v1/web/overview`'s work (observatory.store.web: every panel from one pass over the
  sessions, plus the previous period's totals) with the day rollup up to date, its first request
  (which computes the rollup), the same with the sessions computed in the request, and the old way:
  one /v1/analytics query per panel (each recomputing the sessions), run once each and summed;
- business page: the queries its KPI cards, funnel, retention and products read, summed;
- live visitors.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

from observatory.bench.children import child_main, median_s, open_store, run_children
from observatory.bench.webanalytics import DAYS, GENERATE

SIZES = {"web1m": 1_000_000, "web10m": 10_000_000}
WEB_PANELS = [
    ("web_overview", {}),
    ("web_traffic", {"granularity": "day"}),
    ("top_pages", {"limit": 10}),
    ("entry_pages", {"limit": 10}),
    ("exit_pages", {"limit": 10}),
    ("traffic_sources", {}),
    ("top_referrers", {"limit": 10}),
    *[("web_breakdown", {"dimension": d}) for d in ("device_type", "browser", "os", "country")],
]
BUSINESS = [
    ("kpi_summary", {}),
    ("dau", {}),
    ("wau_mau", {}),
    ("funnel", {"window_seconds": 7 * 86400}),
    ("retention_cohorts", {}),
    ("top_products_by_revenue", {"limit": 10}),
]


def _once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _child(kind: str, folder: str) -> dict:
    from observatory.store.analytics import Analytics, get_query
    from observatory.store.web import WebOverview
    from observatory.store.web_request import parse_web

    n = SIZES[kind]
    store, client = open_store(folder)
    started = time.perf_counter()
    client.command(GENERATE.format(db=store.database, span_ms=DAYS * 86_400_000, n=n))
    generate_s = time.perf_counter() - started
    analytics = Analytics(client, store.database)
    web, in_request = WebOverview(analytics), WebOverview(analytics, rollup=False)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=DAYS)
    req = parse_web({"start": start.isoformat(), "end": end.isoformat()}, end)
    filtered = parse_web({"start": start.isoformat(), "end": end.isoformat(), "country": "DE"}, end)
    span = {"start": start, "end": end}

    def run(name: str, extra: dict) -> None:
        params = {k: v for k, v in {**span, **extra}.items() if k in get_query(name).params}
        if "granularity" in get_query(name).params:
            params.setdefault("granularity", "day")
        analytics.run(name, **params)

    out = {
        "events": n,
        "generate_s": generate_s,
        "web_page_first": _once(lambda: web.overview(req)),  # computes the 90 (+90 previous) days' rollup
        "web_page": median_s(lambda: web.overview(req), runs=3),
        "web_page_in_request": median_s(lambda: in_request.overview(req), runs=1),
        "web_page_filtered": median_s(lambda: web.overview(filtered), runs=3),
        "web_per_panel": sum(_once(lambda n=name, x=extra: run(n, x)) for name, extra in WEB_PANELS),
        "business": sum(_once(lambda n=name, x=extra: run(n, x)) for name, extra in BUSINESS),
        "live": median_s(lambda: web.live(end, 5)),
    }
    client.close()
    return out


def run(report) -> None:
    for kind, n in SIZES.items():
        r = run_children("observatory.bench.pages", kind, timeout_s=1800)
        size = f"{n // 1_000_000}M events"
        note = f"{DAYS} days, generated in {r['generate_s']:.1f} s"
        report.add(
            "pages",
            f"web page data (GET /v1/web/overview: all panels + previous period), 90 days, {size}",
            r["web_page"],
            "s",
            target="<= 1 s",
            note=f"day rollup up to date; its first request (computing the days) {r['web_page_first']:.2f} s; "
            f"sessions computed in the request instead (one pass) {r['web_page_in_request']:.2f} s; "
            f"the old way, one /v1/analytics query per panel ({len(WEB_PANELS)}): {r['web_per_panel']:.2f} s; {note}",
        )
        report.add("pages", f"web page data with country=DE, 90 days, {size}", r["web_page_filtered"], "s")
        report.add(
            "pages",
            f"business page data ({len(BUSINESS)} queries summed), 90 days, {size}",
            r["business"],
            "s",
            target="<= 1 s",
        )
        report.add("pages", f"live visitors (last 5 minutes), {size}", r["live"], "s")


if __name__ == "__main__":
    child_main({kind: functools.partial(_child, kind) for kind in SIZES})
