"""Observatory / Frontend (frontend.json): browser SDK signals through ingest's SDK doors
(observatory.ingest.frontend): Core Web Vitals histograms by bounded page pattern and exceptions by
type. Thresholds are Google's (good / poor at p75)."""

from __future__ import annotations

from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import RI, stat, ts

VITALS = [  # (key, metric, title, unit, good, poor)
    ("lcp", "frontend_web_vitals_lcp_seconds", "LCP", "s", 2.5, 4.0),
    ("inp", "frontend_web_vitals_inp_seconds", "INP", "s", 0.2, 0.5),
    ("cls", "frontend_web_vitals_cls", "CLS", "none", 0.1, 0.25),
    ("fcp", "frontend_web_vitals_fcp_seconds", "FCP", "s", 1.8, 3.0),
    ("ttfb", "frontend_web_vitals_ttfb_seconds", "TTFB", "s", 0.8, 1.8),
]
W30 = "30m"


def dashboard() -> Dash:
    d = Dash(
        "observatory-frontend",
        "Observatory / Frontend",
        "Core Web Vitals (p75 of real page loads vs Google's thresholds, rating shares) and client-side exceptions, "
        "from posthog-js $web_vitals and $exception events sent to ingest's PostHog door.",
        ["frontend"],
        time_from="now-6h",
        refresh="1m",
    )
    d.row("Core Web Vitals: p75 over 30 minutes, all pages")
    for key, metric, title, unit, good, poor in VITALS:
        d.add(
            stat(
                f"p75 {title}",
                f"histogram_quantile(0.75, sum by (le) (rate({metric}_bucket[{W30}])))",
                unit,
                th=[("green", None), ("orange", good), ("red", poor)],
                decimals=3 if key in ("cls", "inp") else 2,
                desc=f"Good <= {good}, poor > {poor} (Google's thresholds, judged at the 75th percentile)",
            ),
            4,
            4,
        )
    d.add(
        stat(
            "Vital reports/s",
            f"sum(rate(frontend_web_vitals_fcp_seconds_count[{RI}])) or vector(0)",
            "short",
            desc="$web_vitals reports with an FCP value per second",
        ),
        4,
        4,
    )
    d.row("p75 by page (configured path patterns; `other` = every unlisted path)")
    for _key, metric, title, unit, good, poor in VITALS[:3]:
        d.add(
            ts(
                f"p75 {title} by page",
                [(f"histogram_quantile(0.75, sum by (le, page) (rate({metric}_bucket[{W30}])))", "{{page}}")],
                unit,
                th=[("green", None), ("orange", good), ("red", poor)],
                desc=f"Lines: good <= {good}, poor > {poor}. The Web Vitals alerts fire above the good threshold for 15 minutes.",
            ),
            8,
            8,
        )
    d.row("Rating shares (from the histogram buckets on the thresholds)")
    d.add(
        ts(
            "Good share by vital",
            [
                (f'sum(rate({m}_bucket{{le="{float(g)}"}}[{W30}])) / clamp_min(sum(rate({m}_count[{W30}])), 1e-9)', t)
                for _, m, t, _, g, _ in VITALS
            ],
            "percentunit",
            desc="Share of page loads rated good (value <= the good threshold)",
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Poor share by vital",
            [
                (
                    f'1 - sum(rate({m}_bucket{{le="{float(p)}"}}[{W30}])) / clamp_min(sum(rate({m}_count[{W30}])), 1e-9)',
                    t,
                )
                for _, m, t, _, _, p in VITALS
            ],
            "percentunit",
            desc="Share of page loads rated poor (value > the poor threshold); the rest needs improvement",
        ),
        12,
        8,
    )
    d.row("Client exceptions")
    d.add(
        ts(
            "Exceptions/s by type",
            [(f"sum by (type) (rate(frontend_exceptions_total[{RI}]))", "{{type}}")],
            "short",
            stack=True,
            desc="$exception events by exception type (at most OBS_INGEST_MAX_EXCEPTION_TYPES types, then `other`). "
            "Messages, affected users and last seen: the top_exceptions analytics query.",
        ),
        16,
        8,
    )
    d.add(
        stat(
            "Exceptions, last hour",
            "sum(increase(frontend_exceptions_total[1h])) or vector(0)",
            "short",
            th=[("green", None), ("orange", 10), ("red", 100)],
        ),
        8,
        4,
    )
    d.add(stat("Exception types seen", "count(sum by (type) (frontend_exceptions_total)) or vector(0)", "short"), 8, 4)
    return d
