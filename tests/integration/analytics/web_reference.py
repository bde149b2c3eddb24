"""The web analytics queries computed in plain Python from the generated events (each event once).

Sessions as documented in the .sql headers: the $pageview/$pageleave events in [start, end), by
session_id (or the properties' $session_id), else per user split at more than 30 minutes without a
web event. Page paths, referrer hosts and segments are the event's enrichment values (the
enrichment functions are tested on their own in tests/unit/test_enrich.py); the grouping, ordering,
sessionization and arithmetic here share no code with the SQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from observatory.events.enrich import enrich
from tests.integration.analytics.reference import naive, trunc, ts

WEB = ("$pageview", "$pageleave")
GAP_MS = 30 * 60 * 1000
BANDS = (
    (10, "0-10s"),
    (30, "10-30s"),
    (60, "30-60s"),
    (180, "1-3m"),
    (600, "3-10m"),
    (1800, "10-30m"),
    (float("inf"), "30m+"),
)


@dataclass
class Session:
    user: str
    started: datetime
    duration_s: float
    pageviews: int
    entry: str
    exit: str
    first: dict  # enrichment of the first pageview: source, referrer, device_type, browser, os, country


def _ms(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=t.tzinfo)) // timedelta(milliseconds=1)


def _dims(e: dict) -> dict:
    cols, _ = enrich(e, e.get("properties") or {})
    device, browser, os_, country, source, referrer, path, _ip = cols
    return {
        "device_type": device,
        "browser": browser,
        "os": os_,
        "country": country,
        "source": source,
        "referrer": referrer,
        "path": path,
    }


class WebReference:
    def __init__(self, events: list[dict], start: datetime, end: datetime) -> None:
        self.web = []
        for e in events:
            if e["event_name"] in WEB and start <= ts(e) < end:
                sid = e.get("session_id") or (e.get("properties") or {}).get("$session_id") or ""
                self.web.append((e, ts(e), sid, _dims(e)))
        self.sessions = self._sessions()

    def _sessions(self) -> list[Session]:
        groups: dict[str, list] = defaultdict(list)
        by_user: dict[str, list] = defaultdict(list)
        for item in self.web:
            e, t, sid, d = item
            if sid:
                groups["s:" + sid].append(item)
            else:
                by_user[e["user_id"]].append(item)
        for user, items in by_user.items():
            items.sort(key=lambda it: it[1])
            n, last = 0, None
            for item in items:
                if last is None or _ms(item[1]) - _ms(last) > GAP_MS:
                    n += 1
                last = item[1]
                groups[f"u:{user}#{n}"].append(item)
        out = []
        for items in groups.values():
            pvs = sorted(
                (it for it in items if it[0]["event_name"] == "$pageview"), key=lambda it: (it[1], it[3]["path"])
            )
            if not pvs:
                continue
            times = [it[1] for it in items]
            out.append(
                Session(
                    items[0][0]["user_id"],
                    min(times),
                    (_ms(max(times)) - _ms(min(times))) / 1000,
                    len(pvs),
                    pvs[0][3]["path"],
                    pvs[-1][3]["path"],
                    pvs[0][3],
                )
            )
        return out

    def overview(self):
        s = self.sessions
        n = len(s)
        pv = sum(x.pageviews for x in s)
        bounces = sum(1 for x in s if x.pageviews == 1)
        return [
            (
                len({x.user for x in s}),
                pv,
                n,
                bounces,
                bounces / n if n else 0,
                sum(x.duration_s for x in s) / n if n else 0,
                pv / n if n else 0,
            )
        ]

    def traffic(self, g: str):
        buckets = defaultdict(list)
        for x in self.sessions:
            buckets[trunc(x.started, g)].append(x)
        rows = []
        for b, ss in sorted(buckets.items()):
            bounces = sum(1 for x in ss if x.pageviews == 1)
            rows.append(
                (
                    naive(b),
                    len({x.user for x in ss}),
                    len(ss),
                    sum(x.pageviews for x in ss),
                    bounces,
                    bounces / len(ss),
                    sum(x.duration_s for x in ss) / len(ss),
                )
            )
        return rows

    def session_duration(self):
        counts = Counter()
        for x in self.sessions:
            counts[next(i for i, (hi, _) in enumerate(BANDS, 1) if x.duration_s < hi)] += 1
        n = len(self.sessions)
        return [(i, BANDS[i - 1][1], counts[i], counts[i] / n) for i in sorted(counts)]

    def top_pages(self, limit: int):
        views, users = Counter(), defaultdict(set)
        for e, _, _, d in self.web:
            if e["event_name"] == "$pageview":
                views[d["path"]] += 1
                users[d["path"]].add(e["user_id"])
        return sorted(((p, views[p], len(users[p])) for p in views), key=lambda r: (-r[1], r[0]))[:limit]

    def entry_pages(self, limit: int):
        n, b = Counter(), Counter()
        for x in self.sessions:
            n[x.entry] += 1
            b[x.entry] += x.pageviews == 1
        return sorted(((p, n[p], b[p], b[p] / n[p]) for p in n), key=lambda r: (-r[1], r[0]))[:limit]

    def exit_pages(self, limit: int):
        n = Counter(x.exit for x in self.sessions)
        total = len(self.sessions)
        return sorted(((p, c, c / total) for p, c in n.items()), key=lambda r: (-r[1], r[0]))[:limit]

    def top_referrers(self, limit: int):
        n, users, source = Counter(), defaultdict(set), {}
        for x in self.sessions:
            r = x.first["referrer"]
            if r and x.first["source"] not in ("direct", "internal"):
                n[r] += 1
                users[r].add(x.user)
                source.setdefault(r, set()).add(x.first["source"])
        return sorted(((r, source[r], n[r], len(users[r])) for r in n), key=lambda row: (-row[2], row[0]))[:limit]

    def by(self, key: str):
        groups = defaultdict(list)
        for x in self.sessions:
            groups[x.first[key]].append(x)
        rows = []
        for v, ss in groups.items():
            bounces = sum(1 for x in ss if x.pageviews == 1)
            rows.append(
                (v, len(ss), len({x.user for x in ss}), sum(x.pageviews for x in ss), bounces, bounces / len(ss))
            )
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    def traffic_sources(self):
        return [(v, n, u, b, r) for v, n, u, _pv, b, r in self.by("source")]


def churn_features(events: list[dict], start: datetime, end: datetime) -> list[tuple]:
    """churn_features.sql in Python: per user over [start, end), plan from the latest signup before end."""
    per = defaultdict(list)
    plan = {}
    for e in events:
        t = ts(e)
        if e["event_name"] == "user_signup" and t < end:
            key = (t, e["event_id"])
            if e["user_id"] not in plan or key > plan[e["user_id"]][0]:
                plan[e["user_id"]] = (key, (e["properties"] or {}).get("plan", ""))
        if start <= t < end:
            per[e["user_id"]].append((t, e))
    rows = []
    for user in sorted(per):
        items = per[user]
        last = max(t for t, _ in items)
        cents = sum(
            int(round(e["properties"]["total_value"] * 100))
            for _, e in items
            if e["event_name"] == "purchase_completed"
        )
        names = Counter(e["event_name"] for _, e in items)
        dims = [(t, _dims(e)) for t, e in items]
        country = max(((t, d["country"]) for t, d in dims if d["country"]), default=(None, ""))[1]
        device = max(((t, d["device_type"]) for t, d in dims if d["device_type"]), default=(None, ""))[1]
        source = min(((t, d["source"]) for t, d in dims if d["source"] not in ("", "internal")), default=(None, ""))[1]
        rows.append(
            (
                user,
                (_ms(end) - _ms(last)) / 86400000,
                len({t.date() for t, _ in items}),
                cents / 100,
                len({e["session_id"] for _, e in items if e.get("session_id")}),
                names["customer_support_ticket"],
                names["refund_requested"],
                names["payment_failed"],
                country,
                device,
                source,
                plan.get(user, (None, ""))[1],
            )
        )
    return rows
