"""Event validation against the repo's schema (pure, no network)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from observatory.events import IdSource, Rejection, Validator
from observatory.events.schema import SchemaError, parse_schema
from observatory.events_io import load_schema, new_event_id
from observatory.settings import default_schema_path

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SCHEMA = load_schema(default_schema_path())


def counter_ids():
    """A fixed id source: the clock stands still, the "random" bytes count up."""
    state = {"n": 0}

    def random_bytes(n: int) -> bytes:
        state["n"] += 1
        return state["n"].to_bytes(2, "big") * (n // 2)

    return IdSource(random_bytes, lambda: 1_700_000_000_000_000_000)


def check(raw, strict=False, new_id=None):
    return Validator(SCHEMA, strict=strict, new_id=new_id or new_event_id).validate(raw, NOW, "src")


def purchase(**props):
    base = {
        "order_id": "o1",
        "total_value": 10.0,
        "payment_method": "card",
        "items": [{"product_id": "p", "quantity": 1, "price": 10.0}],
    }
    return {"event_name": "purchase_completed", "user_id": "u", "properties": {**base, **props}}


def test_schema_names_every_webshop_event():
    assert set(SCHEMA.events) >= {
        "user_signup",
        "product_viewed",
        "add_to_cart",
        "checkout_started",
        "purchase_completed",
        "payment_failed",
        "customer_support_ticket",
        "refund_requested",
    }


def test_valid_event_is_normalised():
    out = check({**purchase(), "timestamp": "2026-11-23T13:00:00+02:00", "session_id": "s"})
    assert not isinstance(out, Rejection)
    assert out["timestamp"] == "2026-11-23T11:00:00.000Z"
    assert out["received_at"] == "2026-11-23T12:00:00.000Z"
    assert out["source"] == "src" and out["session_id"] == "s"
    assert uuid.UUID(out["event_id"]).version == 7


@pytest.mark.parametrize(
    "raw, code, words",
    [
        (purchase(total_value=-0.01), "invalid_property", ">= 0"),
        (purchase(total_value="10"), "invalid_property", "number"),
        (purchase(items=[]), "invalid_property", "at least 1"),
        (purchase(items=[{"product_id": "p"}]), "invalid_property", "quantity"),
        (
            {
                "event_name": "customer_support_ticket",
                "user_id": "u",
                "properties": {"ticket_id": "t", "category": "c", "priority": "meh"},
            },
            "invalid_property",
            "one of",
        ),
        (
            {"event_name": "add_to_cart", "user_id": "u", "properties": {"product_id": "p", "price": 1}},
            "missing_property",
            "quantity",
        ),
        ({"event_name": "x"}, "missing_field", "user_id"),
        ({"user_id": "u"}, "missing_field", "event_name"),
        ({"event_name": "x" * 201, "user_id": "u"}, "name_too_long", "200"),
        ({"event_name": "x", "user_id": "u", "extra": 1}, "unknown_field", "extra"),
        ({"event_name": "x", "user_id": "u", "event_id": "nope"}, "invalid_event_id", "UUID"),
        ({"event_name": "x", "user_id": "u", "timestamp": "2026-11-23T10:00:00"}, "invalid_timestamp", "zone"),
        ({"event_name": "x", "user_id": "u", "timestamp": "yesterday"}, "invalid_timestamp", "timestamp"),
        ({"event_name": "x", "user_id": "u", "timestamp": "2026-11-23T12:10:00Z"}, "timestamp_out_of_window", "future"),
        ({"event_name": "x", "user_id": "u", "timestamp": "2024-01-01T00:00:00Z"}, "timestamp_out_of_window", "past"),
        ({"event_name": "x", "user_id": "u", "properties": []}, "invalid_field", "object"),
        (
            {"event_name": "x", "user_id": "u", "properties": {f"k{i}": i for i in range(101)}},
            "too_many_properties",
            "100",
        ),
        ({"event_name": "x", "user_id": "u", "properties": {"s": "y" * 8193}}, "string_too_long", "properties.s"),
        (
            {"event_name": "x", "user_id": "u", "properties": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}},
            "too_deep",
            "properties.a.b.c.d.e",
        ),
        ({"event_name": "x", "user_id": "u", "properties": {"l": list(range(1001))}}, "array_too_long", "1000"),
        ({"event_name": "x", "user_id": 5}, "missing_field", "user_id"),
        (["not", "an", "object"], "not_an_object", "object"),
    ],
)
def test_rejections_carry_code_and_clear_reason(raw, code, words):
    out = check(raw)
    assert isinstance(out, Rejection), out
    assert out.code == code
    assert words in out.message


def test_custom_events_accepted_unless_strict():
    raw = {"event_name": "newsletter_opened", "user_id": "u", "properties": {"campaign": "nov"}}
    assert not isinstance(check(raw), Rejection)
    strict = check(raw, strict=True)
    assert isinstance(strict, Rejection) and strict.code == "unknown_event"
    assert not isinstance(check(purchase(), strict=True), Rejection)


def test_given_event_id_is_kept_canonical():
    eid = str(uuid.uuid4()).upper()
    out = check({"event_name": "x", "user_id": "u", "event_id": eid})
    assert out["event_id"] == eid.lower()


def test_uuid7_is_time_ordered_and_versioned():
    ids = [new_event_id.uuid(now_ms=1_700_000_000_000 + i) for i in range(100)]
    assert ids == sorted(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert len({new_event_id() for _ in range(1000)}) == 1000


def test_generated_ids_come_from_the_given_source():
    """The id is made of the source's clock and bytes: nothing else is read (48 bits of ms, version
    7, rand_a = the 7th to 18th of the 80 random bits, variant 10, 62 bits of rand_b)."""
    out = check({"event_name": "x", "user_id": "u"}, new_id=counter_ids())
    assert out["event_id"] == "018bcfe5-6800-7004-8001-000100010001"
    ids = counter_ids()
    assert [ids() for _ in range(401)][400] == "018bcfe5-6800-7008-8002-000200020002", "a new block after 400 ids"
    ids.forget()
    assert ids() == "018bcfe5-6800-700c-8003-000300030003", "a forked child draws a fresh block"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_the_parents_ids():
    new_event_id()  # the parent holds a block of random bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its next id, then out without running pytest's teardown
        os.write(write, new_event_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = new_event_id()
    assert len(child) == 36 and child[-17:] != parent[-17:], "the same random bits on both sides of the fork"


def test_past_and_future_windows_follow_the_schema_limits():
    edge_past = (NOW - timedelta(days=399)).isoformat()
    edge_future = (NOW + timedelta(seconds=299)).isoformat()
    for ts in (edge_past, edge_future):
        assert not isinstance(check({"event_name": "x", "user_id": "u", "timestamp": ts}), Rejection)


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"events": {}}, "version: 1"),
        ({"version": 1, "limits": {"max_thing": 1}}, "max_thing"),
        ({"version": 1, "events": {"e": {"properties": {"p": {"type": "str"}}}}}, "type must be"),
        ({"version": 1, "events": {"e": {"properties": {"p": {"type": "string", "maxlen": 3}}}}}, "maxlen"),
    ],
)
def test_bad_schema_files_are_refused_with_the_reason(doc, words):
    with pytest.raises(SchemaError, match=words):
        parse_schema(doc)
