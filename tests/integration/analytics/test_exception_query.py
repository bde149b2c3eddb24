"""top_exceptions.sql against an independent Python computation, on $exception events as the SDK doors
store them (with redelivered duplicates on disk, and other events around)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import timedelta

from observatory.settings import StoreSettings
from observatory.store.analytics import Analytics
from tests.conftest import unique
from tests.integration.shopdata import load, utc

START, END = utc(2026, 3, 1), utc(2026, 3, 8)
TYPES = ["TypeError", "ReferenceError", "KeyError", "ValueError", "ChunkLoadError"]


def _events(seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for i in range(600):
        ts = START - timedelta(days=1) + timedelta(seconds=rng.randrange(9 * 86400))
        kind = rng.choices(TYPES, weights=[50, 20, 10, 5, 1])[0]
        props = {"$exception_list": [{"type": kind, "value": f"{kind} #{i}", "stacktrace": '{"frames":[]}'}]}
        if rng.random() < 0.1:  # an older SDK: only $exception_type / $exception_message
            props = {"$exception_type": kind, "$exception_message": f"{kind} #{i}"}
        if rng.random() < 0.03:
            props = {}
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "event_name": "$exception",
                "user_id": f"u{rng.randrange(80)}",
                "session_id": "",
                "timestamp": ts.isoformat().replace("+00:00", "Z"),
                "properties": props,
                "source": "web",
                "received_at": ts.isoformat().replace("+00:00", "Z"),
            }
        )
        events.append(
            {
                **events[-1],
                "event_id": str(uuid.uuid4()),
                "event_name": "$pageview",
                "properties": {"$exception_type": "NotAnException"},
            }
        )
    return events


def _reference(events: list[dict], limit: int) -> list[tuple]:
    counts, users, last, message = defaultdict(int), defaultdict(set), {}, {}
    for e in events:
        ts = e["timestamp"]
        if e["event_name"] != "$exception" or not (START.isoformat()[:19] <= ts[:19] < END.isoformat()[:19]):
            continue
        p = e["properties"]
        first = (p.get("$exception_list") or [{}])[0]
        kind = first.get("type") or p.get("$exception_type") or "Error"
        text = first.get("value") or p.get("$exception_message") or ""
        counts[kind] += 1
        users[kind].add(e["user_id"])
        if kind not in last or (ts, e["event_id"]) > last[kind]:
            last[kind], message[kind] = (ts, e["event_id"]), text
    rows = [(k, counts[k], len(users[k]), last[k][0], message[k]) for k in counts]
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:limit]


def test_top_exceptions_matches_an_independent_computation(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("exceptions"))
    client = chdb.client()
    try:
        events = _events()
        loaded = load(client, store, events, dup_ratio=0.3)
        assert loaded.duplicates > 0
        analytics = Analytics(client, store.database)
        for limit in (10, 3):
            got = analytics.run("top_exceptions", start=START, end=END, limit=limit).rows
            got = [(r[0], r[1], r[2], r[3].strftime("%Y-%m-%dT%H:%M:%S"), r[4]) for r in got]
            want = [(r[0], r[1], r[2], r[3][:19], r[4]) for r in _reference(events, limit)]
            assert got == want
        assert {r[0] for r in _reference(events, 10)} >= {"TypeError", "Error"}
    finally:
        client.close()
