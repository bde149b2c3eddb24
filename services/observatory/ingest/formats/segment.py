"""Segment / RudderStack HTTP tracking API (/v1/batch, /v1/b, /v1/track|identify|page|screen|group|alias
and the short /v1/t|i|p|s|g|a): JSON as application/json or text/plain, gzip by header or magic bytes.
Keys: Basic auth (write key as user name), `writeKey` in the body or in each message, or Bearer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from observatory.events import Rejection
from observatory.ingest.formats import DecodeError, Payload, Request
from observatory.ingest.formats.body import maybe_gunzip, parse_json
from observatory.ingest.formats.mapping import as_id, corrected_timestamp, event_id, fit_nesting, skew

DOOR = "segment"
TYPES = {"track": "t", "identify": "i", "page": "p", "screen": "s", "group": "g", "alias": "a"}
BATCH_PATHS = ("/v1/batch", "/v1/b")
SINGLE_PATHS = {f"/v1/{t}": t for t in TYPES} | {f"/v1/{short}": t for t, short in TYPES.items()}
EVENT_NAMES = {
    "page": "$pageview",
    "screen": "$screen",
    "identify": "$identify",
    "group": "$groupidentify",
    "alias": "$create_alias",
}


def decode(req: Request, max_decompressed: int) -> Payload:
    encoding = req.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise DecodeError(400, "unsupported_encoding", "Content-Encoding must be gzip or absent")
    payload = parse_json(maybe_gunzip(req.body, encoding == "gzip", max_decompressed))
    if not isinstance(payload, dict):
        raise DecodeError(400, "malformed_json", "expected a JSON object")
    keys = {payload["writeKey"]} if isinstance(payload.get("writeKey"), str) and payload["writeKey"] else set()
    path = req.path.rstrip("/")
    if path in BATCH_PATHS:
        messages = payload.get("batch")
        if not isinstance(messages, list):
            raise DecodeError(400, "malformed_json", "`batch` must be a list of messages")
        shared = payload.get("context") if isinstance(payload.get("context"), dict) else None
        if shared:
            messages = [
                {**m, "context": {**shared, **(m.get("context") or {})}} if isinstance(m, dict) else m for m in messages
            ]
    else:
        kind = SINGLE_PATHS[path]
        messages = [{**payload, "type": payload.get("type") or kind}]
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("writeKey"), str) and m["writeKey"]:
            keys.add(m["writeKey"])
    return Payload(messages=messages, keys=keys, sent_at=payload.get("sentAt"))


def to_event(
    message: Any, source: str, received_at: datetime, clock_skew: timedelta | None = None
) -> dict[str, Any] | Rejection:
    """One Segment/Rudder message onto the native shape (still to be validated); `clock_skew`: mapping.skew()
    of the batch's sentAt (a message's own sentAt wins)."""
    if type(message) is not dict:
        return Rejection("not_an_object", "each message must be a JSON object")
    kind = message.get("type")
    if kind not in TYPES:
        return Rejection("invalid_field", "`type` must be one of " + ", ".join(TYPES))
    name = message.get("event") if kind == "track" else EVENT_NAMES[kind]
    if type(name) is not str or not name:
        return Rejection("missing_field", "a track message needs `event`")
    user, anonymous = as_id(message.get("userId")), as_id(message.get("anonymousId"))
    if user is None and anonymous is None:
        return Rejection("missing_field", "`userId` or `anonymousId` is required")
    body = message.get("traits") if kind in ("identify", "group") else message.get("properties")
    if body is not None and type(body) is not dict:
        return Rejection("invalid_field", "`properties`/`traits` must be an object")
    _context = message.get("context")
    context: dict[str, Any] = _context if type(_context) is dict else {}
    props = dict(body or {}) if kind not in ("identify", "group") else {}
    if kind == "identify":
        traits = body if body is not None else context.get("traits")
        if traits:
            props["$set"] = traits
    elif kind == "group":
        props.update({"$group_type": "group", "$group_key": as_id(message.get("groupId")) or ""})
        if body:
            props["$group_set"] = body
    elif kind == "alias":
        props["alias"] = as_id(message.get("previousId")) or ""
    elif kind in ("page", "screen"):
        _page = context.get("page")
        page: dict[str, Any] = _page if type(_page) is dict else {}
        for prop, key in (
            ("$current_url", "url"),
            ("$pathname", "path"),
            ("$referrer", "referrer"),
            ("title", "title"),
        ):
            value = props.get(key, page.get(key))
            if value is not None:
                props.setdefault(prop, value)
        if message.get("name"):
            props.setdefault("name", message["name"])
    if anonymous is not None:
        props["$anonymous_id"] = anonymous
    _library = context.get("library")
    library: dict[str, Any] = _library if type(_library) is dict else {}
    props["$lib"] = library.get("name") or "segment"
    if library.get("version"):
        props["$lib_version"] = library["version"]
    if context:
        props["$context"] = context
    if message.get("channel"):
        props["$channel"] = message["channel"]
    props["$door"] = DOOR
    event: dict[str, Any] = {"event_name": name, "user_id": user or anonymous, "properties": fit_nesting(props)}
    eid = event_id(message.get("messageId"), source)
    if eid:
        event["event_id"] = eid
    raw_ts = message.get("timestamp", message.get("originalTimestamp"))
    own = skew(message["sentAt"], received_at) if message.get("sentAt") else None
    timestamp = corrected_timestamp(raw_ts, own if own is not None else clock_skew)
    if timestamp is not None:
        event["timestamp"] = timestamp
    session = as_id(context.get("sessionId"))
    if session:
        event["session_id"] = session
    return event
