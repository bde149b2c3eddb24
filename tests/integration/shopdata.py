"""Webshop events with known answers, loaded into a test database through the consumer's own path
(decode.to_row + ClickHouseSink), with redelivered duplicates in separate inserts and merges stopped
so only FINAL can collapse them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from observatory.consumer.decode import to_row
from observatory.demo.generator import Webshop
from observatory.store.migrate import migrate
from observatory.store.sink import ClickHouseSink


def ms(ts: str) -> str:
    """Truncate an ISO timestamp to milliseconds (the column is DateTime64(3))."""
    t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return t.replace(microsecond=t.microsecond // 1000 * 1000).isoformat().replace("+00:00", "Z")


def webshop_events(
    days: int, end: datetime, seed: int = 11, base_sessions: float = 120, growth_per_day: float = 0.003
) -> list[dict]:
    events = list(Webshop(seed=seed).history(days, base_sessions=base_sessions, growth_per_day=growth_per_day, end=end))
    for e in events:
        e["timestamp"] = ms(e["timestamp"])
    return events


@dataclass
class Loaded:
    events: list[dict]  # each event once (the truth)
    duplicates: int  # extra rows inserted (redeliveries)


def load(client, store, events: list[dict], dup_ratio: float = 0.2, seed: int = 5, stop_merges: bool = True) -> Loaded:
    """Migrate, insert `events`, then re-insert a random `dup_ratio` of them in two more batches (a
    redelivered batch). With merges stopped the duplicates stay on disk as separate rows."""
    migrate(client, store)
    if stop_merges:
        client.command(f"SYSTEM STOP MERGES {store.database}.events")
    sink = ClickHouseSink(client, store.database)
    sink.insert([to_row(e) for e in events])
    rng = random.Random(seed)
    dups = [e for e in events if rng.random() < dup_ratio]
    half = len(dups) // 2
    for batch in (dups[:half], dups[half:]):
        if batch:
            sink.insert([to_row(e) for e in batch])
    return Loaded(events, len(dups))


def utc(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


__all__ = ["Loaded", "load", "webshop_events", "utc", "timedelta"]
