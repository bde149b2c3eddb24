"""Insert failures by kind and the bisection that isolates refused items (pure parts of consumer/faults.py)."""

from __future__ import annotations

import asyncio

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from observatory.consumer.faults import insert_isolating, item_body
from observatory.store.errors import DataError, as_data_error


def test_clickhouse_codes_decide_the_kind():
    refused = as_data_error(DatabaseError("Code: 469. DB::Exception: Constraint violated", code=469))
    assert isinstance(refused, DataError) and refused.code == 469 and refused.name == "VIOLATED_CONSTRAINT"
    # over HTTP the code may only be in the message text
    assert as_data_error(DatabaseError("HTTPDriver received ClickHouse error code 500\n Code: 27. DB::Exception"))
    assert as_data_error(DatabaseError("Code: 60. DB::Exception: Table d.t does not exist", code=60)) is None
    assert as_data_error(OperationalError("Error HTTPConnectionPool: Max retries exceeded")) is None
    assert as_data_error(DatabaseError("Code: 241. Memory limit exceeded", code=241)) is None
    assert as_data_error(TimeoutError("timed out")) is None


def test_bisect_isolates_every_refused_item_and_inserts_the_rest_once():
    bad = {3, 17, 18, 63}
    inserted, calls = [], []

    async def insert(items):
        calls.append(len(items))
        if bad & set(items):
            raise DataError(469, f"refused {sorted(bad & set(items))}")
        inserted.extend(items)
        return len(items)

    _, refused = asyncio.run(insert_isolating(insert, list(range(64))))
    assert sorted(item for item, _ in refused) == sorted(bad)
    assert sorted(inserted) == [i for i in range(64) if i not in bad]
    assert len(calls) < 64, "bisection, not one insert per row"


def test_transient_errors_are_not_bisected():
    calls = []

    async def insert(items):
        calls.append(len(items))
        raise OperationalError("connection refused")

    try:
        asyncio.run(insert_isolating(insert, list(range(8))))
    except OperationalError:
        pass
    else:
        raise AssertionError("a transient error must reach the caller")
    assert calls == [8]


def test_a_refused_row_is_dead_lettered_as_a_replayable_event():
    import datetime
    import uuid

    row = [
        uuid.UUID(int=1),
        "x",
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        "u",
        "",
        '{"a": 1}',
        "k",
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    ]
    body = item_body(
        row, ("event_id", "event_name", "timestamp", "user_id", "session_id", "properties", "source", "received_at")
    )
    import orjson

    ev = orjson.loads(body)
    assert ev["event_id"] == str(uuid.UUID(int=1)) and ev["properties"] == {"a": 1}
    assert ev["timestamp"].startswith("2026-01-01T00:00:00")
    assert item_body(b'{"raw": 1}', ()) == b'{"raw": 1}'
