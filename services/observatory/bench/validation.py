"""Micro-benchmark: validation cost per event, compiled path against the reference rules, in this
process (CPU time, best of several rounds: the least disturbed by other load on the machine)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from observatory.demo.generator import Webshop
from observatory.events import Validator
from observatory.events_io import load_schema, new_event_id
from observatory.settings import default_schema_path

S = "pipeline"
# no id, no timestamp (ingest sets them); also the body of the load benchmarks (bench.pipeline.SINGLE)
MINIMAL = {
    "event_name": "product_viewed",
    "user_id": "u-1",
    "session_id": "s-1",
    "properties": {"product_id": "p-1", "price": 12.5, "category": "shoes"},
}


def typical_events(n: int = 100) -> list[dict]:
    """What the demo shop (like the SDKs) sends: ids and timestamps set, the schema's events."""
    return [
        {k: v for k, v in e.items() if k not in ("received_at", "source")} for e in list(Webshop(seed=1).history(1))[:n]
    ]


def per_event_us(fn, events: int, rounds: int = 15, calls: int = 20) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - started) / (calls * events))
    return best * 1e6


def run(report) -> None:
    v = Validator(load_schema(default_schema_path()), new_id=new_event_id)
    now = datetime.now(UTC)
    typical = typical_events()
    body = orjson.dumps(typical)
    minimal = [dict(MINIMAL) for _ in range(100)]
    compiled = per_event_us(lambda: v.validate_many(typical, now, "bench"), len(typical))
    reference = per_event_us(lambda: v.validate_reference(typical, now, "bench"), len(typical), rounds=5)
    report.add(
        S,
        "validation per typical event (compiled)",
        compiled,
        "us",
        target="<= 1.5 us",
        note=f"100 demo-shop events (ids, timestamps, typed properties); reference rules {reference:.2f} us "
        f"({reference / compiled:.1f}x); CPU time, best of 15",
    )
    report.add(
        S,
        "validation per minimal event (id generated)",
        per_event_us(lambda: v.validate_many(minimal, now, "bench"), len(minimal)),
        "us",
        note="no event_id/timestamp: a UUIDv7 is generated (about 1 us of it)",
    )
    report.add(
        S,
        "JSON parse + validation per typical event",
        per_event_us(lambda: v.validate_many(orjson.loads(body), now, "bench"), len(typical)),
        "us",
        note="what the endpoint spends on a batch body before publishing",
    )
