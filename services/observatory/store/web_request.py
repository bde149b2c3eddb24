"""The web overview's request: range (period or start/end), granularity, panel size and filters,
parsed from query-string values (observatory.store.web runs it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from observatory.store.analytics import GRANULARITIES, MAX_BUCKETS, ParameterError, _bind, next_midnight, parse_time

FILTERS = ("page", "source", "referrer", "country", "device", "browser", "os", "site")
PERIODS = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
_FILTER_VALUE = re.compile(r"^[^\x00-\x1f]{1,300}$")
_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 28 * 86400}


@dataclass(frozen=True)
class WebRequest:
    start: datetime
    end: datetime
    granularity: str
    limit: int
    filters: dict[str, str]  # only the filters set

    @property
    def previous(self) -> tuple[datetime, datetime]:
        return self.start - (self.end - self.start), self.start

    def bound(self, start: datetime, end: datetime) -> dict[str, Any]:
        return {
            "start": _bind(start),
            "end": _bind(end),
            "granularity": self.granularity,
            **{f: self.filters.get(f, "") for f in FILTERS},
        }


def parse_web(raw: dict[str, str | None], now: datetime) -> WebRequest:
    """Typed request from query-string values; raises ParameterError naming the parameter."""
    period = raw.get("period")
    if period and (raw.get("start") or raw.get("end")):
        raise ParameterError("period", "give either period or start/end, not both")
    if period:
        if period not in PERIODS:
            raise ParameterError("period", f"{period!r} is not one of {', '.join(PERIODS)}")
        end = next_midnight(now)
        start = end - timedelta(days=PERIODS[period])
    else:
        end_raw, start_raw = raw.get("end"), raw.get("start")
        end = parse_time("end", end_raw) if end_raw else next_midnight(now)
        start = parse_time("start", start_raw) if start_raw else end - timedelta(days=30)
    if start >= end:
        raise ParameterError("start", f"must be before end ({start.isoformat()} >= {end.isoformat()})")
    g = (raw.get("granularity") or ("hour" if end - start <= timedelta(days=1) else "day")).lower()
    if g not in GRANULARITIES:
        raise ParameterError("granularity", f"{g!r} is not one of {', '.join(GRANULARITIES)}")
    if (end - start).total_seconds() / _SECONDS[g] > MAX_BUCKETS:
        raise ParameterError("granularity", f"more than {MAX_BUCKETS} {g} buckets: use a coarser granularity")
    try:
        limit = int(raw.get("limit") or 10)
    except ValueError:
        raise ParameterError("limit", f"{raw.get('limit')!r} is not an integer") from None
    if not 1 <= limit <= 100:
        raise ParameterError("limit", f"must be between 1 and 100, got {limit}")
    filters = {}
    for f in FILTERS:
        value = raw.get(f)
        if value is None or value == "":
            continue
        if not _FILTER_VALUE.match(value):
            raise ParameterError(f, "at most 300 characters, no control characters")
        filters[f] = value
    return WebRequest(start, end, g, limit, filters)
