"""The ClickHouse sink on embedded ClickHouse: ClickHouse parses the events' JSON text (JSONEachRow);
every column arrives as the old Python rows stored it; data errors and transient errors differ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from observatory.consumer.decode import decode
from observatory.store.errors import DataError
from observatory.store.migrate import migrate
from observatory.store.sink import ClickHouseSink


def ev(user: str, **kw) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "product_viewed",
        "user_id": user,
        "session_id": "s",
        "timestamp": "2026-11-20T10:00:00.123Z",
        "received_at": "2026-11-20T10:00:00.500Z",
        "properties": {"product_id": "p", "price": 1.5, "tags": ["a", {"b": "ü"}]},
        "source": "web",
        **kw,
    }


@pytest.fixture
def sink(ch, store_settings):
    migrate(ch, store_settings)
    return ClickHouseSink(ch, store_settings.database)


def stored(ch, db: str) -> dict[str, dict]:
    res = ch.query(f"SELECT * FROM {db}.events FINAL")
    return {row["user_id"]: row for row in (dict(zip(res.column_names, r)) for r in res.result_rows)}


def test_clickhouse_stores_what_ingest_validated(ch, sink, store_settings):
    plain = ev("plain")
    odd_id = str(uuid.uuid4())
    events = [
        plain,
        ev("offset", timestamp="2026-11-20T12:00:00.123456+02:00"),
        ev("lower", timestamp="2026-11-20t10:00:00.123z", event_id=odd_id.replace("-", "").upper()),
        ev("nulls", session_id=None, source=None),
        {k: v for k, v in ev("no-received").items() if k != "received_at"},
        ev("extra", some_future_column=1),
    ]
    decoded = decode(orjson.dumps(events))
    assert decoded.poison == []
    inserted_at = sink.insert(decoded.rows)
    per_event = decode(
        orjson.dumps([ev("props-null", properties=None), ev("offset-2", timestamp="2026-11-20T12:00:00.1+02:00")])
    )
    assert per_event.poison == []
    sink.insert(per_event.rows)
    events += [ev("props-null"), ev("offset-2")]
    rows = stored(ch, store_settings.database)
    assert set(rows) == {e["user_id"] for e in events}
    utc = UTC
    p = rows["plain"]
    assert str(p["event_id"]) == plain["event_id"] and p["event_name"] == "product_viewed" and p["session_id"] == "s"
    assert p["timestamp"].replace(tzinfo=utc) == datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=utc)
    assert p["received_at"].replace(tzinfo=utc) == datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=utc)
    assert orjson.loads(p["properties"]) == plain["properties"] and p["source"] == "web"
    assert abs((p["inserted_at"].replace(tzinfo=utc) - inserted_at).total_seconds()) < 0.001
    assert rows["offset"]["timestamp"].replace(tzinfo=utc) == datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=utc)
    assert rows["lower"]["timestamp"] == p["timestamp"] and str(rows["lower"]["event_id"]) == odd_id
    assert rows["nulls"]["session_id"] == "" and rows["nulls"]["source"] == ""
    assert rows["no-received"]["received_at"] == rows["no-received"]["timestamp"]
    assert orjson.loads(rows["props-null"]["properties"]) == {}
    assert rows["offset-2"]["timestamp"].replace(tzinfo=utc) == datetime(2026, 11, 20, 10, 0, 0, 100000, tzinfo=utc)
    assert len({r["inserted_at"] for u, r in rows.items() if u not in ("props-null", "offset-2")}) == 1, (
        "one inserted_at per batch"
    )


def test_a_value_clickhouse_cannot_store_is_a_data_error(ch, sink, store_settings):
    good = decode(orjson.dumps([ev("good")])).rows
    bad = decode(orjson.dumps([ev("bad")])).rows
    bad[0].json = bytes(bad[0].json).replace(b'"2026-11-20T10:00:00.123Z"', b'"not a time"')
    with pytest.raises(DataError) as exc:
        sink.insert(good + bad)
    assert "not a time" in str(exc.value) or exc.value.code in (6, 27, 41)
    sink.insert(good)
    assert set(stored(ch, store_settings.database)) == {"good"}


def test_a_missing_table_is_not_a_data_error(ch, sink, store_settings):
    ch.command(f"DROP TABLE {store_settings.database}.events_daily_mv")
    ch.command(f"DROP TABLE {store_settings.database}.events")
    with pytest.raises(Exception) as exc:
        sink.insert(decode(orjson.dumps([ev("x")])).rows)
    assert not isinstance(exc.value, DataError)


def test_columns_come_from_the_table(ch, store_settings):
    """A migration that adds columns needs no consumer change: a plain column is filled from the event
    key of the same name, a DEFAULT column is computed by ClickHouse."""
    db = store_settings.database
    migrate(ch, store_settings)
    ch.command(f"ALTER TABLE {db}.events ADD COLUMN region LowCardinality(String)")
    ch.command(f"ALTER TABLE {db}.events ADD COLUMN name_length UInt32 DEFAULT length(event_name)")
    sink = ClickHouseSink(ch, db)  # a consumer (re)started after the migration; a running one re-reads
    sink.insert(decode(orjson.dumps([ev("with-region", region="NZ"), ev("without")])).rows)
    rows = stored(ch, db)
    assert rows["with-region"]["region"] == "NZ" and rows["without"]["region"] == ""
    assert rows["without"]["name_length"] == len("product_viewed")
