"""Decoding AMQP bodies into items for ClickHouse (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from observatory.consumer.decode import PoisonMessage, decode


def ev(**kw):
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "x",
        "user_id": "u",
        "session_id": "s",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "received_at": "2026-11-20T10:00:01.000Z",
        "properties": {"a": "ü", "n": [1, {"b": 2}]},
        "source": "web",
        **kw,
    }


def test_items_keep_every_field_as_sent():
    events = [ev(), ev(extra_column="kept for the table to decide")]
    body = orjson.dumps(events)
    out = decode(body)
    assert out.poison == []
    assert [orjson.loads(bytes(item.json)) for item in out.rows] == events
    assert all(bytes(item.json) in body for item in out.rows), "the JSON text is passed on, not rebuilt"
    assert out.rows[0].received_at == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)


def test_single_object_body_and_received_at_fallback():
    e = ev()
    del e["received_at"]
    (item,) = decode(orjson.dumps(e)).rows
    assert orjson.loads(bytes(item.json)) == e
    assert item.received_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "odd, normal",
    [
        ({"properties": None}, {"properties": {}}),
        ({"properties": []}, {"properties": {}}),
        ({"session_id": 0, "source": ""}, {"session_id": "", "source": ""}),
    ],
)
def test_falsy_optional_fields_are_normalised(odd, normal):
    sent = [ev(), ev(**odd)]
    out = decode(orjson.dumps(sent))
    assert out.poison == [] and len(out.rows) == 2
    # the odd event sends the whole body down the per-event path: every event's text is rebuilt
    # there, times written by isoformat(); each field is compared with what was sent
    for item, event, fixed in zip(out.rows, sent, ({}, normal)):
        text = orjson.loads(bytes(item.json))
        assert text == {
            **event,
            "timestamp": "2026-11-20T10:00:00+00:00",
            "received_at": "2026-11-20T10:00:01+00:00",
            **fixed,
        }
        assert item.received_at == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "body, reason", [(b"\xff", "undecodable"), (b"[1", "undecodable"), (b"42", "invalid"), (b'"s"', "invalid")]
)
def test_whole_message_poison(body, reason):
    with pytest.raises(PoisonMessage) as exc:
        decode(body)
    assert exc.value.reason == reason


@pytest.mark.parametrize(
    "bad",
    [
        ev(event_id="x"),
        ev(timestamp="2026-11-20T10:00:00"),
        ev(user_id=None),
        ev(properties=[1]),
        ev(event_name=""),
        "str",
        ev(session_id=5),
    ],
)
def test_one_bad_event_is_poison_alone(bad):
    out = decode(orjson.dumps([ev(), bad, ev()]))
    assert len(out.rows) == 2
    assert len(out.poison) == 1 and out.poison[0][1] == "invalid_event"
    assert orjson.loads(out.poison[0][0]) == bad
