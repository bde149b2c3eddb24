"""When reports run: `HH:MM` every day, `DAY HH:MM` every week, `N HH:MM` on day N of every month (UTC)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+)?([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Schedule:
    kind: str  # daily | weekly
    hour: int
    minute: int
    weekday: int | None = None  # 0 = Monday (weekly only)
    monthday: int | None = None  # 1..28 (monthly only)

    def next_after(self, after: datetime) -> datetime:
        """The first run time strictly after `after`."""
        after = after.astimezone(UTC)
        if self.monthday is not None:
            year, month = after.year, after.month
            while True:
                candidate = datetime(year, month, self.monthday, self.hour, self.minute, tzinfo=UTC)
                if candidate > after:
                    return candidate
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        candidate = after.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is not None:
            candidate += timedelta(days=(self.weekday - candidate.weekday()) % 7)
            step = timedelta(days=7)
        else:
            step = timedelta(days=1)
        while candidate <= after:
            candidate += step
        return candidate


def parse(kind: str, spec: str) -> Schedule | None:
    """`07:00` (daily) or `mon 07:00` (weekly); empty: no schedule. Raises ValueError."""
    text = spec.strip().lower()
    if not text:
        return None
    if kind == "monthly":
        mm = re.fullmatch(r"([1-9]|1\d|2[0-8])\s+([01]?\d|2[0-3]):([0-5]\d)", text)
        if not mm:
            raise ValueError(f"monthly report time {spec!r} is not `DAY-OF-MONTH HH:MM` (1-28), e.g. `1 07:00`")
        return Schedule(kind, int(mm.group(2)), int(mm.group(3)), monthday=int(mm.group(1)))
    m = _SPEC.match(text)
    if not m:
        raise ValueError(f"report time {spec!r} is not `HH:MM` or `DAY HH:MM` (UTC)")
    day, hour, minute = m.group(1), int(m.group(2)), int(m.group(3))
    if kind == "weekly":
        if day is None:
            raise ValueError(f"weekly report time {spec!r} needs a day, e.g. `mon 07:00`")
        return Schedule(kind, hour, minute, DAYS.index(day))
    if day is not None:
        raise ValueError(f"daily report time {spec!r} takes no day")
    return Schedule(kind, hour, minute)
