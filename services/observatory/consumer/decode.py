"""Turn an AMQP message body into ClickHouse rows (pure, no I/O).

A body that is not a JSON array of objects is poison as a whole. Inside a good body, an event that
cannot become a row (bad UUID, timestamp, types) is poison on its own; the rest are inserted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from observatory.events import enrich

# received_at stays at index 7 (latency metric); the web enrichment columns (migration 0004) follow it;
# the sink appends inserted_at.
COLUMNS = ("event_id", "event_name", "timestamp", "user_id", "session_id", "properties", "source",
           "received_at", *enrich.COLUMNS, "inserted_at")


@dataclass
class Decoded:
    rows: list[list] = field(default_factory=list)
    poison: list[tuple[bytes, str, str]] = field(default_factory=list)  # (body, reason code, detail)


class PoisonMessage(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _ts(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError("timestamp lacks a zone")
    return ts


def to_row(ev: object, keep_ip: bool = False) -> list:
    if not isinstance(ev, dict):
        raise ValueError("event is not an object")
    name, user = ev.get("event_name"), ev.get("user_id")
    if not isinstance(name, str) or not name or not isinstance(user, str):
        raise ValueError("event_name/user_id missing or not strings")
    props = ev.get("properties") or {}
    if not isinstance(props, dict):
        raise ValueError("properties is not an object")
    session, source = ev.get("session_id") or "", ev.get("source") or ""
    if not isinstance(session, str) or not isinstance(source, str):
        raise ValueError("session_id/source not strings")
    received = _ts(ev.get("received_at") or ev.get("timestamp"))
    if not session and isinstance(props.get("$session_id"), str):
        session = props["$session_id"][:200]   # SDKs (PostHog) send the session as a property
    web, props = enrich.enrich(ev, props, keep_ip)
    return [uuid.UUID(ev["event_id"]), name, _ts(ev.get("timestamp")), user, session,
            orjson.dumps(props).decode(), source, received, *web]


def decode(body: bytes, keep_ip: bool = False) -> Decoded:
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage("undecodable", f"body is not JSON: {exc}") from exc
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        raise PoisonMessage("invalid", "body is neither an event object nor an array of events")
    out = Decoded()
    for ev in events:
        try:
            out.rows.append(to_row(ev, keep_ip))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            out.poison.append((orjson.dumps(ev), "invalid_event", str(exc) or type(exc).__name__))
    return out
