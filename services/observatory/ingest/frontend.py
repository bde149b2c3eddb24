"""Frontend signals from accepted events: `$web_vitals` → one histogram per Core Web Vital, labelled with
a bounded page (configured path patterns, everything else `other`); `$exception` → a counter by
exception type (at most `max_types` distinct values, then `other`). Observed after the broker confirmed,
so SDK retries of an unconfirmed request are not counted twice.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram

from observatory.events import ValidatedEvent

# seconds, with bucket bounds on Google's good/poor thresholds so rating shares come from the buckets
VITALS = {
    "LCP": (
        "frontend_web_vitals_lcp_seconds",
        "Largest Contentful Paint",
        (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0),
        1e-3,
    ),
    "INP": (
        "frontend_web_vitals_inp_seconds",
        "Interaction to Next Paint",
        (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
        1e-3,
    ),
    "FCP": (
        "frontend_web_vitals_fcp_seconds",
        "First Contentful Paint",
        (0.25, 0.5, 1.0, 1.8, 2.5, 3.0, 5.0, 10.0),
        1e-3,
    ),
    "TTFB": (
        "frontend_web_vitals_ttfb_seconds",
        "Time to First Byte",
        (0.05, 0.1, 0.2, 0.4, 0.8, 1.8, 3.0, 10.0),
        1e-3,
    ),
    "CLS": (
        "frontend_web_vitals_cls",
        "Cumulative Layout Shift (unitless)",
        (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0),
        1.0,
    ),
}
_TYPE = re.compile(r"[^A-Za-z0-9_.:$-]")


def page_label(url_or_path: object, patterns: list[str]) -> str:
    """The first configured glob pattern the path matches (the pattern is the label), else `other`."""
    if not isinstance(url_or_path, str) or not url_or_path:
        return "other"
    path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path.split("?")[0]
    path = path or "/"
    for pattern in patterns:
        if fnmatch.fnmatchcase(path, pattern):
            return pattern
    return "other"


def exception_type(props: dict[str, Any]) -> str:
    items = props.get("$exception_list")
    if isinstance(items, str):  # kept as JSON text when nested deeply
        import orjson

        try:
            items = orjson.loads(items)
        except orjson.JSONDecodeError:
            items = None
    kind = None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        kind = items[0].get("type")
    kind = kind or props.get("$exception_type") or "Error"
    return _TYPE.sub("_", str(kind))[:64] or "Error"


class FrontendObserver:
    def __init__(self, registry: CollectorRegistry, page_patterns: list[str], max_types: int) -> None:
        self.patterns, self.max_types = page_patterns, max_types
        self.vitals = {
            name: (
                Histogram(metric, f"{desc} from $web_vitals events", ["page"], buckets=buckets, registry=registry),
                scale,
            )
            for name, (metric, desc, buckets, scale) in VITALS.items()
        }
        self.exceptions = Counter(
            "frontend_exceptions",
            "Client-side $exception events by exception type (bounded; overflow counted as `other`)",
            ["type"],
            registry=registry,
        )
        self._types: set[str] = set()

    def __call__(self, events: list[ValidatedEvent]) -> None:
        for ev in events:
            name = ev["event_name"]
            if name == "$web_vitals":
                self._vitals(ev["properties"])
            elif name == "$exception":
                kind = exception_type(ev["properties"])
                if kind not in self._types:
                    if len(self._types) >= self.max_types:
                        kind = "other"
                    else:
                        self._types.add(kind)
                self.exceptions.labels(type=kind).inc()

    def _vitals(self, props: dict[str, Any]) -> None:
        page = page_label(props.get("$pathname") or props.get("$current_url"), self.patterns)
        for name, (histogram, scale) in self.vitals.items():
            value = props.get(f"$web_vitals_{name}_value")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                histogram.labels(page=page).observe(value * scale)
