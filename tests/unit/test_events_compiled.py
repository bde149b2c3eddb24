"""The compiled validation path (events/compiled.py) against the reference rules (validate.py).

validate_many runs the compiled path and hands what it does not accept to the rules; the
property held here is that the combination gives, for every event, exactly what the rules alone
give: same normalised dict, same rejection code and message. Thousands of generated events cover
each schema rule from both sides (valid, just over a limit, wrong type, unusual forms), and the
common valid events are checked to really take the compiled path.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from observatory.demo.generator import Webshop
from observatory.events import Rejection, Validator
from observatory.events.schema import parse_schema
from observatory.events_io import load_schema, new_event_id
from observatory.settings import default_schema_path

NOW = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
SCHEMA = load_schema(default_schema_path())


class Text(str):
    pass


def webshop_events(n: int = 300) -> list[dict]:
    """Events as the demo (and the SDKs) send them: ids and timestamps set, typed properties."""
    out = []
    shop = Webshop(seed=3)
    start = NOW - timedelta(days=2)
    while len(out) < n:
        for ev in shop.session(start + timedelta(minutes=len(out))):
            out.append({k: v for k, v in ev.items() if k not in ("received_at", "source")})
    return out[:n]


def timestamps(rng: random.Random) -> list:
    base = NOW - timedelta(seconds=rng.randint(0, 3600))
    edge_past = NOW - timedelta(days=SCHEMA.limits.max_past_days)
    edge_future = NOW + timedelta(seconds=SCHEMA.limits.max_future_seconds)
    return [
        base.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z",
        base.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        base.isoformat(),
        base.astimezone(timezone(timedelta(hours=2))).isoformat(),
        base.strftime("%Y-%m-%dT%H:%M:%SZ"),
        base.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] + "Z",
        base.strftime("%Y-%m-%dt%H:%M:%S.%f")[:23] + "z",
        base.strftime("%Y-%m-%dT%H:%M:%S,%fZ"),
        base.strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z",
        base.strftime("%Y-%m-%dT%H:%M:%S.%f")[:22] + "Z",
        "2026-02-30T10:00:00.000Z",
        "2026-11-23T24:00:00.000Z",
        "2026-11-23T10:00:60.000Z",
        "2026-11-23T10:00:00.000+00:00",
        "2026-11-23T10:00:00.0000Z",
        "yesterday",
        "",
        17,
        None,
        Text(base.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"),
        *(
            f(t)
            for t in (edge_past, edge_future)
            for d in (-2000, -1000, -1, 0, 1, 1000, 2000)
            for f in (
                lambda t, d=d: (t + timedelta(microseconds=d)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                lambda t, d=d: (t + timedelta(microseconds=d)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z",
            )
        ),
    ]


def mutations(rng: random.Random, ev: dict) -> list[dict]:
    """Variants of a valid event, each touching one rule (or none)."""
    props = ev.get("properties", {})
    eid = str(uuid.uuid4())
    out = [dict(ev, timestamp=ts) for ts in timestamps(rng)]
    out += [
        dict(ev, event_id=v)
        for v in (
            eid,
            eid.upper(),
            eid.replace("-", ""),
            "{" + eid + "}",
            eid[:35] + "g",
            eid + " ",
            None,
            5,
            Text(eid),
            "urn:uuid:" + eid,
        )
    ]
    out += [{k: v for k, v in ev.items() if k != drop} for drop in ev]
    out += [
        dict(ev, event_name=v)
        for v in ("", "   ", "x" * 200, "x" * 201, 7, None, Text(ev["event_name"]), "custom_" + str(rng.randint(0, 9)))
    ]
    out += [dict(ev, user_id=v) for v in ("", "u" * 200, "u" * 201, 5, None, Text("u"))]
    out += [dict(ev, session_id=v) for v in ("", "s" * 200, "s" * 201, 5, None, Text("s"))]
    out += [dict(ev, extra=1), OrderedDict(ev), [ev], "event", None]
    out += [
        dict(ev, properties=v)
        for v in (
            None,
            [],
            "x",
            OrderedDict(props),
            {},
            {f"k{i}": i for i in range(100)},
            {f"k{i}": i for i in range(101)},
        )
    ]
    deep = 1
    for _level in range(7):
        deep = {"d": deep}
        out.append(dict(ev, properties={**props, "nest": deep}))
    for value in (
        "y" * 8192,
        "y" * 8193,
        float("nan"),
        float("inf"),
        -float("inf"),
        1e308,
        True,
        None,
        list(range(1000)),
        list(range(1001)),
        (1, 2),
        [1, [2, {"a": "y" * 8193}]],
        {"k" * 8193: 1},
        {1: "int key"},
        Text("t"),
        2**70,
        -0.0,
    ):
        out.append(dict(ev, properties={**props, "extra_prop": value}))
    for key in props:  # each typed property: wrong types, edges, absence
        for value in (
            None,
            "1",
            1,
            1.5,
            -1,
            0,
            -0.01,
            True,
            [],
            {},
            (1,),
            "x" * 64,
            "x" * 65,
            "x" * 128,
            "x" * 129,
            float("nan"),
            float("inf"),
            Text("low"),
            "low",
            "urgent",
            "meh",
            2**70,
            [{"product_id": "p", "quantity": 1, "price": 1.0}],
            [{"product_id": "p"}],
            [[1]],
            ["s"],
            ({"product_id": "p", "quantity": 1, "price": 1.0},),
            [OrderedDict(product_id="p", quantity=1, price=None)],
        ):
            out.append(dict(ev, properties={**props, key: value}))
        out.append(dict(ev, properties={k: v for k, v in props.items() if k != key}))
    return out


def normalise_ids(results: list, raws: list) -> list:
    """Generated ids differ from run to run: both must be UUIDv7; compare the rest."""
    out = []
    for res, raw in zip(results, raws):
        if isinstance(res, dict) and (type(raw) is not dict or raw.get("event_id") is None):
            assert uuid.UUID(res["event_id"]).version == 7
            res = {**res, "event_id": "generated"}
        out.append(res)
    return out


@pytest.mark.parametrize("strict", [False, True])
def test_compiled_path_gives_exactly_what_the_rules_give(strict):
    rng = random.Random(15)
    v = Validator(SCHEMA, strict=strict, new_id=new_event_id)
    raws = [m for ev in webshop_events(40) for m in mutations(rng, ev)]
    assert len(raws) > 5000
    for i in range(0, len(raws), 100):  # request-sized batches: one bad event must not spoil the others
        batch = raws[i : i + 100]
        expected = v.validate_reference(copy.deepcopy(batch), NOW, "src")
        got = v.validate_many(batch, NOW, "src")
        assert normalise_ids(got, batch) == normalise_ids(expected, batch)
    codes = {r.code for r in v.validate_reference(raws, NOW, "src") if isinstance(r, Rejection)}
    assert codes >= {
        "not_an_object",
        "unknown_field",
        "missing_field",
        "invalid_field",
        "name_too_long",
        "invalid_event_id",
        "invalid_timestamp",
        "timestamp_out_of_window",
        "too_many_properties",
        "string_too_long",
        "too_deep",
        "array_too_long",
        "missing_property",
        "invalid_property",
    }


def test_typical_events_take_the_compiled_path():
    v = Validator(SCHEMA, new_id=new_event_id)
    events = webshop_events()
    window = (NOW - timedelta(days=400), NOW + timedelta(seconds=300))
    fast = v.fast.run(events, "2026-11-23T12:00:00.123Z", window, "src")
    assert None not in fast
    minimal = {"event_name": "product_viewed", "user_id": "u", "properties": {"product_id": "p", "price": 1}}
    assert v.fast.run([minimal, {"event_name": "custom", "user_id": "u"}], "t", window, "src")[0] is not None
    assert fast == v.validate_reference(events, NOW, "src")


def test_normalised_event_serialises_like_the_reference():
    v = Validator(SCHEMA, new_id=new_event_id)
    events = webshop_events(50)
    assert orjson.dumps(v.validate_many(events, NOW, "s")) == orjson.dumps(v.validate_reference(events, NOW, "s"))


def test_options_without_a_compiled_form_stay_with_the_rules():
    doc = {
        "version": 1,
        "events": {
            "odd": {
                "properties": {
                    "n": {"type": "number", "enum": [1, 2]},
                    "tags": {"type": "array", "items": {"type": "array"}},
                }
            }
        },
    }
    v = Validator(parse_schema(doc), new_id=new_event_id)
    for props, ok in (
        ({"n": 1, "tags": [[1]]}, True),
        ({"n": 3, "tags": [[1]]}, False),
        ({"n": 1, "tags": [(1,)]}, False),
    ):
        raw = {"event_name": "odd", "user_id": "u", "properties": props}
        got, ref = v.validate(raw, NOW, "s"), v.validate_reference([raw], NOW, "s")[0]
        assert isinstance(got, dict) == ok
        assert normalise_ids([got], [raw]) == normalise_ids([ref], [raw])
