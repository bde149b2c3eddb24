"""format_ts (events/validate.py, also the SDK mappings'): the per-second cached text for UTC times
against datetime's own isoformat, over random times, the years' edges and other zones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from observatory.events.validate import format_ts


def _reference(ts: datetime) -> str:
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def test_format_ts_matches_isoformat():
    rng = random.Random(7)
    times = [datetime(y, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) for y in (1, 999, 1000, 2026, 9998)]
    start = datetime(2026, 11, 30, tzinfo=UTC)
    times += [start + timedelta(microseconds=rng.randrange(10**11)) for _ in range(20_000)]  # often the same second
    times += [start + timedelta(microseconds=rng.randrange(10**15)) for _ in range(2_000)]
    for ts in times:
        assert format_ts(ts) == _reference(ts), ts
        other = ts.astimezone(timezone(timedelta(hours=-5, minutes=-30))) if ts.year > 1 else ts
        assert format_ts(other) == _reference(ts), other
