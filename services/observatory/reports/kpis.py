"""The KPI table of a report: the last complete period against the one before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from observatory.store.analytics import Analytics, utc

KINDS = ("daily", "weekly", "monthly")
# (key in kpi_summary or "avg_dau", label, format, higher is better)
KPIS = (
    ("revenue", "Revenue", "money", True),
    ("orders", "Orders", "int", True),
    ("average_order_value", "Average order value", "money", True),
    ("avg_dau", "Daily active users (mean)", "float", True),
    ("active_users", "Active users", "int", True),
    ("signups", "Signups", "int", True),
    ("purchase_conversion", "Purchase conversion (purchasers / active users)", "pct", True),
    ("payment_failure_rate", "Payment failure rate", "pct", False),
    ("refund_rate", "Refund rate", "pct", False),
)


@dataclass(frozen=True)
class Period:
    kind: str
    start: datetime
    end: datetime
    previous_start: datetime
    previous_end: datetime

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        if self.kind == "daily":
            return self.start.strftime("%a %d %b %Y")
        if self.kind == "monthly":
            return self.start.strftime("%B %Y")
        return f"{self.start:%d %b} – {last:%d %b %Y}"


def month_start(t: datetime, add: int = 0) -> datetime:
    index = t.year * 12 + (t.month - 1) + add
    return t.replace(year=index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


def period(kind: str, now: datetime) -> Period:
    """daily: yesterday vs the day before; weekly: the last 7 complete days vs the 7 before;
    monthly: the last complete calendar month vs the one before."""
    if kind not in KINDS:
        raise ValueError(f"report kind {kind!r} is not one of {KINDS}")
    if kind == "monthly":
        this = month_start(utc(now))
        return Period(kind, month_start(this, -1), this, month_start(this, -2), month_start(this, -1))
    today = utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    days = 1 if kind == "daily" else 7
    span = timedelta(days=days)
    return Period(kind, today - span, today, today - 2 * span, today - span)


@dataclass(frozen=True)
class KpiRow:
    key: str
    label: str
    fmt: str
    higher_is_better: bool
    current: float
    previous: float

    @property
    def change(self) -> float | None:
        """Relative change; None when the previous value is 0."""
        return None if self.previous == 0 else (self.current - self.previous) / self.previous

    def formatted(self, value: float) -> str:
        if self.fmt == "money":
            return f"{value:,.2f}"
        if self.fmt == "int":
            return f"{int(value):,}"
        if self.fmt == "pct":
            return f"{value * 100:.2f}%"
        return f"{value:,.1f}"

    @property
    def change_text(self) -> str:
        c = self.change
        if c is None:
            return "n/a" if self.current else "–"
        return f"{c * 100:+.1f}%"

    @property
    def good(self) -> bool | None:
        c = self.change
        if not c:
            return None
        return (c > 0) == self.higher_is_better


def _values(analytics: Analytics, start: datetime, end: datetime) -> dict:
    row = analytics.run("kpi_summary", start=start, end=end).dicts()[0]
    days = analytics.run("dau", start=start, end=end).dicts()
    n_days = max(1, round((end - start).total_seconds() / 86400))
    row["avg_dau"] = sum(d["active_users"] for d in days) / n_days
    return row


def year_ago(p: Period) -> Period:
    """The same calendar month one year earlier, as the `previous` of a year-over-year table."""
    return Period(p.kind, p.start, p.end, month_start(p.start, -12), month_start(p.end, -12))


def kpi_table(analytics: Analytics, p: Period) -> list[KpiRow]:
    cur = _values(analytics, p.start, p.end)
    prev = _values(analytics, p.previous_start, p.previous_end)
    return [KpiRow(key, label, fmt, hib, float(cur[key]), float(prev[key])) for key, label, fmt, hib in KPIS]
