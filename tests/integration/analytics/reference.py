"""The analytics KPIs computed in plain Python from the generated event list (each event once).

Independent of ClickHouse: no SQL, only the definitions in store/queries/*.sql headers. Money is in
integer cents (round(x * 100), like the SQL), ratios are int / int divisions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FUNNEL = ("user_signup", "product_viewed", "add_to_cart", "checkout_started", "purchase_completed")


def ts(e: dict) -> datetime:
    return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))


def trunc(t: datetime, g: str) -> datetime:
    t = t.astimezone(UTC)
    if g == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if g == "day":
        return day
    if g == "week":
        return day - timedelta(days=day.weekday())
    if g == "month":
        return day.replace(day=1)
    raise ValueError(g)


def naive(t: datetime) -> datetime:
    """clickhouse-connect returns UTC DateTime columns as naive datetimes."""
    return t.astimezone(UTC).replace(tzinfo=None)


def cents(x: float) -> int:
    return int(round(x * 100))


class Reference:
    def __init__(self, events: list[dict], start: datetime, end: datetime) -> None:
        self.all = events
        self.start, self.end = start, end
        self.inr = [e for e in events if start <= ts(e) < end]

    def _first_seen(self) -> dict[str, datetime]:
        first: dict[str, datetime] = {}
        for e in self.all:
            t = ts(e)
            if t < self.end and (e["user_id"] not in first or t < first[e["user_id"]]):
                first[e["user_id"]] = t
        return first

    def dau(self):
        users = defaultdict(set)
        for e in self.inr:
            users[ts(e).date()].add(e["user_id"])
        return [(d, len(u)) for d, u in sorted(users.items())]

    def active_users(self, g):
        users = defaultdict(set)
        for e in self.inr:
            users[trunc(ts(e), g)].add(e["user_id"])
        return [(naive(b), len(u)) for b, u in sorted(users.items())]

    def wau_mau(self):
        lo = datetime.combine(self.start.date() - timedelta(days=29), datetime.min.time(), UTC)
        active = defaultdict(set)  # day -> users
        for e in self.all:
            t = ts(e)
            if lo <= t < self.end:
                active[t.date()].add(e["user_id"])
        out = []
        d = self.start.date()
        while datetime.combine(d, datetime.min.time(), UTC) < self.end:
            dau = active.get(d, set())
            wau = set().union(*(active.get(d - timedelta(days=i), set()) for i in range(7)))
            mau = set().union(*(active.get(d - timedelta(days=i), set()) for i in range(30)))
            if mau:
                out.append((d, len(dau), len(wau), len(mau), len(dau) / len(mau)))
            d += timedelta(days=1)
        return out

    def new_vs_returning(self, g):
        first = self._first_seen()
        users = defaultdict(set)
        for e in self.inr:
            users[trunc(ts(e), g)].add(e["user_id"])
        out = []
        for b, us in sorted(users.items()):
            new = sum(1 for u in us if trunc(first[u], g) == b)
            ret = sum(1 for u in us if trunc(first[u], g) < b)
            out.append((naive(b), len(us), new, ret))
        return out

    def funnel(self, window_s: int):
        """ClickHouse windowFunnel (default mode), re-implemented: events sorted by (time, step); a
        step-1 event opens a chain; a step-k event extends a chain at step k-1 whose start is within
        the window; the user's level is the highest step reached."""
        per_user = defaultdict(list)
        for e in self.inr:
            if e["event_name"] in FUNNEL:
                t = ts(e)
                ms = (t - EPOCH) // timedelta(milliseconds=1)
                per_user[e["user_id"]].append((ms, FUNNEL.index(e["event_name"])))
        window = window_s * 1000
        levels = []
        for evs in per_user.values():
            chain: list[int | None] = [None] * len(FUNNEL)  # start time of the latest chain at each step
            level = 0
            for t, idx in sorted(evs):
                if idx == 0:
                    chain[0] = t
                elif chain[idx - 1] is not None and t <= chain[idx - 1] + window:
                    chain[idx] = chain[idx - 1]
                    if idx == len(FUNNEL) - 1:
                        break
            for k in range(len(FUNNEL), 0, -1):
                if chain[k - 1] is not None:
                    level = k
                    break
            levels.append(level)
        counts = [sum(1 for lv in levels if lv >= s) for s in range(1, len(FUNNEL) + 1)]
        out = []
        for i, n in enumerate(counts):
            prev = None if i == 0 else (n / counts[i - 1] if counts[i - 1] else None)
            out.append((i + 1, FUNNEL[i], n, prev, n / counts[0] if counts[0] else None))
        return out

    def revenue(self, g):
        c, n = Counter(), Counter()
        for e in self.inr:
            if e["event_name"] == "purchase_completed":
                b = trunc(ts(e), g)
                c[b] += cents(e["properties"]["total_value"])
                n[b] += 1
        return [(naive(b), c[b] / 100, n[b], (c[b] / 100) / n[b]) for b in sorted(n)]

    def revenue_by_payment_method(self):
        c, n = Counter(), Counter()
        for e in self.inr:
            if e["event_name"] == "purchase_completed":
                m = e["properties"]["payment_method"]
                c[m] += cents(e["properties"]["total_value"])
                n[m] += 1
        total = sum(c.values())
        rows = [(m, c[m], c[m] / 100, n[m], (c[m] / 100) / n[m], c[m] / total) for m in n]
        return sorted(rows, key=lambda r: (-r[2], r[0]))

    def top_products_by_views(self, limit):
        views, viewers = Counter(), defaultdict(set)
        for e in self.inr:
            if e["event_name"] == "product_viewed":
                p = e["properties"]["product_id"]
                views[p] += 1
                viewers[p].add(e["user_id"])
        rows = sorted(((p, views[p], len(viewers[p])) for p in views), key=lambda r: (-r[1], r[0]))
        return rows[:limit]

    def top_products_by_revenue(self, limit):
        c, units, orders = Counter(), Counter(), defaultdict(set)
        for e in self.inr:
            if e["event_name"] == "purchase_completed":
                for it in e["properties"]["items"]:
                    p = it["product_id"]
                    c[p] += it["quantity"] * cents(it["price"])
                    units[p] += it["quantity"]
                    orders[p].add(e["event_id"])
        rows = sorted(((p, c[p] / 100, units[p], len(orders[p])) for p in c), key=lambda r: (-r[1], r[0]))
        return rows[:limit]

    def add_to_cart_rate(self):
        views, adds = Counter(), Counter()
        for e in self.inr:
            if e["event_name"] == "product_viewed":
                views[e["properties"]["product_id"]] += 1
            elif e["event_name"] == "add_to_cart":
                adds[e["properties"]["product_id"]] += 1
        products = set(views) | set(adds)
        rows = [(p, views[p], adds[p], adds[p] / views[p] if views[p] else None) for p in products]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    def refund_rate(self, g):
        orders, refunds, rev, ref = Counter(), Counter(), Counter(), Counter()
        buckets = set()
        for e in self.inr:
            b = trunc(ts(e), g)
            if e["event_name"] == "purchase_completed":
                orders[b] += 1
                rev[b] += cents(e["properties"]["total_value"])
                buckets.add(b)
            elif e["event_name"] == "refund_requested":
                refunds[b] += 1
                ref[b] += cents(e["properties"]["amount"])
                buckets.add(b)
        return [
            (
                naive(b),
                orders[b],
                refunds[b],
                refunds[b] / orders[b] if orders[b] else 0,
                rev[b],
                ref[b],
                rev[b] / 100,
                ref[b] / 100,
                ref[b] / rev[b] if rev[b] else 0,
            )
            for b in sorted(buckets)
        ]

    def payment_failure_rate(self, g):
        attempts, failures = Counter(), Counter()
        for e in self.inr:
            if e["event_name"] in ("payment_failed", "purchase_completed"):
                b = trunc(ts(e), g)
                attempts[b] += 1
                failures[b] += e["event_name"] == "payment_failed"
        return [(naive(b), attempts[b], failures[b], failures[b] / attempts[b]) for b in sorted(attempts)]

    def retention_cohorts(self):
        first = self._first_seen()
        cohort = {u: trunc(t, "week") for u, t in first.items()}
        cohort = {u: w for u, w in cohort.items() if self.start <= w < self.end}
        size = Counter(cohort.values())
        active = defaultdict(set)
        for e in self.inr:
            u = e["user_id"]
            if u in cohort:
                w = trunc(ts(e), "week")
                if w >= cohort[u]:
                    active[(cohort[u], (w - cohort[u]).days // 7)].add(u)
        return [(w.date(), off, size[w], len(us), len(us) / size[w]) for (w, off), us in sorted(active.items())]

    def event_counts(self, name, g):
        n, users = Counter(), defaultdict(set)
        for e in self.inr:
            if e["event_name"] == name:
                b = trunc(ts(e), g)
                n[b] += 1
                users[b].add(e["user_id"])
        return [(naive(b), n[b], len(users[b])) for b in sorted(n)]

    def kpi_summary(self):
        users = {e["user_id"] for e in self.inr}
        names = Counter(e["event_name"] for e in self.inr)
        rev = sum(cents(e["properties"]["total_value"]) for e in self.inr if e["event_name"] == "purchase_completed")
        orders = names["purchase_completed"]
        attempts = orders + names["payment_failed"]
        purchasers = {e["user_id"] for e in self.inr if e["event_name"] == "purchase_completed"}
        return [
            (
                len(users),
                names["user_signup"],
                orders,
                rev / 100,
                (rev / 100) / orders if orders else 0,
                attempts,
                names["payment_failed"],
                names["payment_failed"] / attempts if attempts else 0,
                names["refund_requested"],
                names["refund_requested"] / orders if orders else 0,
                len(purchasers),
                len(purchasers) / len(users) if users else 0,
            )
        ]
