"""Decoding AMQP bodies into ClickHouse rows (pure)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from observatory.consumer.decode import PoisonMessage, decode


def ev(**kw):
    return {"event_id": str(uuid.uuid4()), "event_name": "x", "user_id": "u", "session_id": "s",
            "timestamp": "2026-11-20T10:00:00.000Z", "received_at": "2026-11-20T10:00:01.000Z",
            "properties": {"a": "ü", "n": [1, {"b": 2}]}, "source": "web", **kw}


def test_rows_keep_every_field():
    e = ev()
    out = decode(orjson.dumps([e]))
    assert out.poison == []
    (row,) = out.rows
    assert str(row[0]) == e["event_id"] and row[1:5] == ["x", row[2], "u", "s"]
    assert orjson.loads(row[5]) == e["properties"]
    assert row[6] == "web" and (row[7] - row[2]).total_seconds() == 1


@pytest.mark.parametrize("body, reason", [(b"\xff", "undecodable"), (b"[1", "undecodable"), (b"42", "invalid"),
                                          (b'"s"', "invalid")])
def test_whole_message_poison(body, reason):
    with pytest.raises(PoisonMessage) as exc:
        decode(body)
    assert exc.value.reason == reason


@pytest.mark.parametrize("bad", [ev(event_id="x"), ev(timestamp="2026-11-20T10:00:00"), ev(user_id=None),
                                 ev(properties=[1]), ev(event_name=""), "str", ev(session_id=5)])
def test_one_bad_event_is_poison_alone(bad):
    out = decode(orjson.dumps([ev(), bad, ev()]))
    assert len(out.rows) == 2
    assert len(out.poison) == 1 and out.poison[0][1] == "invalid_event"
    assert orjson.loads(out.poison[0][0]) == bad
