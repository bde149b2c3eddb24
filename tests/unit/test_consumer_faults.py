"""Insert failures by kind and the bisection that isolates refused items (pure parts of consumer/faults.py)."""

from __future__ import annotations

import asyncio

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from observatory.consumer.faults import ack_plan, environmental, insert_isolating, item_body
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


def test_ack_plan_multiple_acks_only_below_the_lowest_unsettled_delivery():
    # a held delivery (5) below the batch's highest tags: the multiple-ack stops at 4, the rest singly
    assert ack_plan([1, 2, 3, 4, 6, 7], {5, 9}) == (4, [6, 7])
    # nothing unsettled below: one multiple-ack at the highest tag, as before
    assert ack_plan([3, 1, 2], {7, 8}) == (3, [])
    assert ack_plan([3, 1, 2], set()) == (3, [])
    # the lowest unsettled is below every settled tag: no multiple-ack at all
    assert ack_plan([4, 6], {2}) == (None, [4, 6])
    assert ack_plan([], {1}) == (None, [])


def test_ack_plan_never_covers_an_unsettled_tag():
    import random

    rng = random.Random(7)
    for _ in range(500):
        tags = rng.sample(range(1, 60), rng.randint(1, 30))
        cut = rng.randint(0, len(tags))
        settled, unsettled = tags[:cut], set(tags[cut:])
        multiple, singles = ack_plan(settled, unsettled)
        covered = {t for t in range(1, (multiple or 0) + 1)} | set(singles)
        assert not covered & unsettled, (settled, unsettled, multiple, singles)
        assert set(settled) <= covered, "every settled delivery is acked"
        assert len(singles) == len(set(singles)) and (multiple is None or multiple not in singles)


def test_environment_faults_hold_and_message_errors_dead_letter():
    from observatory.events.enrich import EnrichmentUnavailable

    assert environmental(EnrichmentUnavailable("GeoIP database missing"))
    assert environmental(FileNotFoundError("x")) and environmental(ImportError("ua_parser"))
    assert not environmental(KeyError("properties")) and not environmental(RuntimeError("bug"))
    assert not environmental(ValueError("bad value"))
