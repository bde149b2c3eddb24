"""PostHog capture format (/e, /i/v0/e, /batch, /capture, /track), decoded as PostHog's server does.

Data: `?data=` if present, else the body; for form posts the form field `data`. Compression hint:
`?compression=`, else the form's `compression`, else Content-Encoding. gzip on a gzip hint or when
the bytes start with 1f 8b; base64 on a `base64` hint or a strictly base64 body. JSON: a list (a
batch), an object with `batch` (an envelope with `api_key`/`token` and `sent_at`) or one event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from observatory.events import Rejection
from observatory.ingest.formats import DecodeError, Payload, Request
from observatory.ingest.formats.body import GZIP_MAGIC, form_fields, looks_base64, maybe_gunzip, parse_json, unbase64
from observatory.ingest.formats.mapping import as_id, corrected_timestamp, event_id, fit_nesting, offset_timestamp

DOOR = "posthog"
PATHS = ("/e", "/i/v0/e", "/batch", "/capture", "/track")


def decode(req: Request, max_decompressed: int) -> Payload:
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    hint = req.query.get("compression", "")
    if "data" in req.query:
        data = req.query["data"].replace(" ", "+").encode()
    elif ctype == "application/x-www-form-urlencoded":
        form = form_fields(req.body)
        if "data" not in form:
            raise DecodeError(400, "empty_body", "form body has no `data` field")
        data = form["data"].encode()
        hint = hint or form.get("compression", "")
    else:
        data = req.body
    hint = (hint or req.headers.get("content-encoding", "")).strip().lower()
    if hint not in ("", "gzip", "gzip-js", "base64", "identity"):
        raise DecodeError(400, "unsupported_encoding", f"unsupported compression `{hint[:20]}`")
    gzipped = hint in ("gzip", "gzip-js") or data.startswith(GZIP_MAGIC)
    if not gzipped and (hint == "base64" or (hint in ("", "identity") and looks_base64(data))):
        data = unbase64(data)
    data = maybe_gunzip(data, gzipped, max_decompressed)
    payload = parse_json(data)

    keys: set[str] = set()
    sent_at = None
    if isinstance(payload, list):
        messages = payload
    elif isinstance(payload, dict) and "batch" in payload:
        messages = payload["batch"]
        if not isinstance(messages, list):
            raise DecodeError(400, "malformed_json", "`batch` must be a list of events")
        for field in ("api_key", "token"):
            if isinstance(payload.get(field), str) and payload[field]:
                keys.add(payload[field])
        sent_at = payload.get("sent_at")
    elif isinstance(payload, dict) and "event" in payload:
        messages = [payload]
    else:
        raise DecodeError(400, "malformed_json", "expected an event, a list of events or {batch: [...]}")
    for message in messages:
        if isinstance(message, dict):
            for token in (
                message.get("api_key"),
                (message.get("properties") or {}).get("token") if isinstance(message.get("properties"), dict) else None,
            ):
                if isinstance(token, str) and token:
                    keys.add(token)
    if sent_at is None and req.query.get("_", "").isdigit():
        sent_at = int(req.query["_"])
    return Payload(messages=messages, keys=keys, sent_at=sent_at)


def to_event(
    message: object, source: str, received_at: datetime, clock_skew: timedelta | None = None
) -> dict[str, Any] | Rejection:
    """One PostHog event onto the native shape (still to be validated); `clock_skew`: mapping.skew()."""
    if type(message) is not dict:
        return Rejection("not_an_object", "each event must be a JSON object")
    name = message.get("event")
    if type(name) is not str or not name:
        return Rejection("missing_field", "`event` is required")
    props = message.get("properties")
    if props is None:
        props = {}
    elif type(props) is not dict:
        return Rejection("invalid_field", "`properties` must be an object")
    props = dict(props)
    props.pop("token", None)  # the write key: never stored
    user = message.get("distinct_id")
    if type(user) is not str or not user:
        user = as_id(user) or as_id(message.get("$distinct_id")) or as_id(props.get("distinct_id"))
    if user is None:
        return Rejection("missing_field", "`distinct_id` is required (top level or in properties)")
    for field in ("$set", "$set_once"):
        if field in message:
            props[field] = message[field]
    props.setdefault("$lib", "posthog")
    props["$door"] = DOOR
    if "timestamp" in message:
        ignore = bool(props.get("$ignore_sent_at"))
        timestamp = corrected_timestamp(message["timestamp"], clock_skew, ignore)
    else:
        timestamp = offset_timestamp(message.get("offset"), received_at)
    session = props.get("$session_id")
    if type(session) is not str:
        session = as_id(session)
    event: dict[str, Any] = {"event_name": name, "user_id": user, "properties": fit_nesting(props)}
    eid = event_id(message.get("uuid"), source)
    if eid:
        event["event_id"] = eid
    if timestamp is not None:
        event["timestamp"] = timestamp
    if session:
        event["session_id"] = session
    return event
