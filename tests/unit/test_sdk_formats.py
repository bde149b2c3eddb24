"""The SDK wire formats as pure functions: decoding (PostHog's order of rules, Segment's paths) and the
mapping onto native events, with expectations written out by hand."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime

import pytest

from observatory.events import Rejection
from observatory.ingest.formats import DecodeError, Request, posthog, segment
from observatory.ingest.formats.body import gunzip
from observatory.ingest.formats.mapping import fit_nesting, skew
from observatory.ingest.frontend import exception_type, page_label

RECEIVED = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
LIMIT = 1 << 20


def ph(body: bytes, headers=None, query=None) -> object:
    return posthog.decode(Request(body, headers or {}, query or {}, "/e/"), LIMIT)


def test_posthog_envelope_gzip_sniffed_and_keys_collected():
    body = gzip.compress(
        json.dumps(
            {
                "api_key": "k1",
                "sent_at": "2026-11-29T12:00:00Z",
                "batch": [{"event": "a", "properties": {"token": "k1"}}],
            }
        ).encode()
    )
    payload = ph(body, {"content-type": "text/plain"})
    assert payload.keys == {"k1"} and payload.sent_at == "2026-11-29T12:00:00Z"
    assert payload.messages == [{"event": "a", "properties": {"token": "k1"}}]


def test_posthog_form_base64_keeps_plus_signs_and_query_data():
    raw = json.dumps([{"event": ">>>", "properties": {"token": "k"}}]).encode()
    encoded = base64.b64encode(raw).decode()
    assert "+" in encoded  # sendBeacon posts it unescaped; PostHog reads '+' as '+', not as a space
    form = ("data=" + encoded + "&compression=base64").encode()
    assert ph(form, {"content-type": "application/x-www-form-urlencoded"}).messages[0]["event"] == ">>>"
    # a query parser turned '+' into ' ': the decoder turns it back
    assert ph(b"", query={"data": encoded.replace("+", " ")}).messages[0]["event"] == ">>>"


def test_posthog_single_event_and_legacy_ms_sent_at():
    payload = ph(json.dumps({"event": "x", "properties": {"token": "t"}}).encode(), query={"_": "1764417600000"})
    assert len(payload.messages) == 1 and payload.sent_at == 1764417600000 and payload.keys == {"t"}


@pytest.mark.parametrize(
    "body,status",
    [(b"", 400), (b"[1", 400), (b'{"foo": 1}', 400), (b"\xff\xfe{}", 400), (gzip.compress(b"[]")[:-3], 400)],
)
def test_posthog_undecodable(body, status):
    with pytest.raises(DecodeError) as err:
        ph(body)
    assert err.value.status == status


def test_gunzip_stops_at_the_limit():
    bomb = gzip.compress(b"\0" * (32 * LIMIT))
    with pytest.raises(DecodeError) as err:
        gunzip(bomb, LIMIT)
    assert err.value.status == 413
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), LIMIT) == b"abcd"


def test_posthog_mapping():
    eid = str(uuid.uuid4())
    event = posthog.to_event(
        {
            "uuid": eid,
            "event": "$pageview",
            "timestamp": "2026-11-29T13:59:30Z",
            "$set": {"plan": "pro"},
            "properties": {"distinct_id": 42, "token": "secret", "$session_id": "s1", "$current_url": "http://x/"},
        },
        "web",
        RECEIVED,
        skew("2026-11-29T14:00:00Z", RECEIVED),
    )
    assert event == {
        "event_name": "$pageview",
        "user_id": "42",
        "event_id": eid,
        "session_id": "s1",
        "timestamp": "2026-11-29T11:59:30+00:00",  # 30 s before receipt: the 2 h skew removed
        "properties": {
            "distinct_id": 42,
            "$session_id": "s1",
            "$current_url": "http://x/",
            "$set": {"plan": "pro"},
            "$lib": "posthog",
            "$door": "posthog",
        },
    }
    not_uuid = posthog.to_event({"uuid": "abc", "event": "x", "distinct_id": "u"}, "web", RECEIVED)
    assert not_uuid["event_id"] == str(uuid.uuid5(uuid.UUID("6f0b6c2e-59a4-4d0e-9a55-4b1f3d7f0c10"), "web\x00abc"))
    assert isinstance(posthog.to_event({"event": "x"}, "web", RECEIVED), Rejection)
    assert isinstance(posthog.to_event("x", "web", RECEIVED), Rejection)


def test_segment_mapping_every_type():
    ctx = {
        "library": {"name": "analytics.js", "version": "1.84.3"},
        "sessionId": 17,
        "page": {"url": "http://shop/p?utm_source=a", "path": "/p", "referrer": "http://ref/", "title": "P"},
    }
    base = {"anonymousId": "a1", "userId": None, "context": ctx, "messageId": "m-1"}
    page = segment.to_event({**base, "type": "page", "name": "Home", "properties": {}}, "web", RECEIVED)
    assert page["event_name"] == "$pageview" and page["user_id"] == "a1" and page["session_id"] == "17"
    assert page["properties"]["$current_url"] == "http://shop/p?utm_source=a"
    assert page["properties"]["$pathname"] == "/p" and page["properties"]["$referrer"] == "http://ref/"
    assert page["properties"]["$anonymous_id"] == "a1" and page["properties"]["$lib"] == "analytics.js"
    assert page["properties"]["$context"]["page"]["title"] == "P"
    names = {
        kind: segment.to_event({**base, "type": kind, "event": "Bought", "userId": "u1"}, "web", RECEIVED)["event_name"]
        for kind in segment.TYPES
    }
    assert names == {
        "track": "Bought",
        "page": "$pageview",
        "screen": "$screen",
        "identify": "$identify",
        "group": "$groupidentify",
        "alias": "$create_alias",
    }
    ident = segment.to_event({"type": "identify", "userId": "u", "traits": {"a": 1}}, "web", RECEIVED)
    assert ident["properties"]["$set"] == {"a": 1} and ident["user_id"] == "u"
    assert isinstance(segment.to_event({"type": "track", "event": "x"}, "web", RECEIVED), Rejection)
    assert isinstance(segment.to_event({"type": "bogus", "userId": "u"}, "web", RECEIVED), Rejection)


def test_segment_decode_paths_and_keys():
    single = json.dumps({"event": "x", "userId": "u", "writeKey": "k"}).encode()
    payload = segment.decode(Request(single, {}, {}, "/v1/t"), LIMIT)
    assert payload.messages[0]["type"] == "track" and payload.keys == {"k"}
    batch = gzip.compress(
        json.dumps(
            {
                "batch": [{"type": "page", "userId": "u", "writeKey": "k2"}],
                "context": {"ip": "1"},
                "sentAt": "2026-11-29T12:00:00Z",
            }
        ).encode()
    )
    payload = segment.decode(Request(batch, {}, {}, "/v1/batch"), LIMIT)
    assert payload.keys == {"k2"} and payload.messages[0]["context"] == {"ip": "1"}


def test_deep_values_become_json_text():
    props = {"a": {"b": {"c": {"d": 1}}}, "l": [[1, [2]]], "flat": 1}
    assert fit_nesting(props) == {"a": {"b": {"c": '{"d":1}'}}, "l": [[1, "[2]"]], "flat": 1}
    assert props == {"a": {"b": {"c": {"d": 1}}}, "l": [[1, [2]]], "flat": 1}, "the input is not changed"
    shallow = {"a": {"b": 1}, "x": [1, 2]}
    assert fit_nesting(shallow) is shallow


def test_page_label_and_exception_type_are_bounded():
    patterns = ["/", "/products/*"]
    assert page_label("http://x/products/123?q=1", patterns) == "/products/*"
    assert page_label("/", patterns) == "/" and page_label("http://x/zzz", patterns) == "other"
    assert page_label(None, patterns) == "other"
    assert exception_type({"$exception_list": '[{"type": "Type Error!"}]'}) == "Type_Error_"
    assert exception_type({}) == "Error"
