"""Observatory / SLOs (slos.json): the service level objectives of the ingest API and the pipeline,
their 30-day error budgets and burn rates."""

from __future__ import annotations

from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import EV, Steps, stat, ts

BUDGET_TH: Steps = [("red", None), ("orange", 0), ("yellow", 0.25), ("green", 0.5)]


def availability_errors(w: str) -> str:
    """Share of event requests answered 5xx over the window `w`."""
    return f'((sum(increase(ingest_http_requests_total{{{EV},code=~"5.."}}[{w}])) or vector(0)) / clamp_min(sum(increase(ingest_http_requests_total{{{EV}}}[{w}])), 1))'


def slow_requests(w: str) -> str:
    """Share of event requests slower than 500 ms over the window `w`."""
    return f'(1 - sum(increase(ingest_http_request_duration_seconds_bucket{{{EV},le="0.5"}}[{w}])) / clamp_min(sum(increase(ingest_http_request_duration_seconds_count{{{EV}}}[{w}])), 1))'


def stale_events(w: str) -> str:
    """Share of events that reached ClickHouse later than 60 s after ingest over the window `w`."""
    return f'(1 - sum(increase(consumer_end_to_end_latency_seconds_bucket{{le=~"60(\\\\.0)?"}}[{w}])) / clamp_min(sum(increase(consumer_end_to_end_latency_seconds_count[{w}])), 1))'


def dashboard() -> Dash:
    d = Dash(
        "observatory-slos",
        "Observatory / SLOs",
        "Service level objectives of the ingest API and the pipeline, error budgets over 30 days and burn rates. Availability: 99.9% of POST /v1/events without 5xx. Latency: 99% within 500 ms. Freshness: 99% of events in ClickHouse within 60 s.",
        ["slo"],
        time_from="now-7d",
        refresh="1m",
    )
    for name, bad, budget in (
        ("Availability", availability_errors, 0.001),
        ("Latency (500 ms)", slow_requests, 0.01),
        ("Freshness (60 s)", stale_events, 0.01),
    ):
        d.row(f"{name} SLO: {100 - budget * 100:g}%")
        d.add(
            stat(
                f"{name}: SLI (30d)",
                f"1 - {bad('30d')}",
                "percentunit",
                decimals=3,
                th=[("red", None), ("green", 1 - budget)],
            ),
            6,
            5,
        )
        d.add(
            stat(
                f"{name}: error budget left (30d)",
                f"1 - {bad('30d')} / {budget}",
                "percentunit",
                decimals=1,
                th=BUDGET_TH,
                desc=f"Share of the 30-day error budget ({budget:g} of requests/events) not yet spent; below 0 the SLO is broken",
            ),
            6,
            5,
        )
        d.add(
            ts(
                f"{name}: burn rate",
                [
                    (f"{bad('1h')} / {budget}", "1h"),
                    (f"{bad('6h')} / {budget}", "6h"),
                    (f"{bad('3d')} / {budget}", "3d"),
                ],
                "x",
                th=[("green", None), ("orange", 6), ("red", 14.4)],
                desc="1 = spending the budget exactly over 30 days; 14.4 over 1h pages (2% of the budget in an hour), 6 over 6h opens a ticket",
            ),
            12,
            5,
        )
    return d
