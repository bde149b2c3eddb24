"""Turn an AMQP message body into items for ClickHouse (pure, no I/O).

The consumer does not build Python rows: ClickHouse parses what ingest validated (sink.py inserts
the items as JSONEachRow). Here a body is checked in one pass of msgspec's C decoder against the
row types (a UUID, times with a zone, strings, properties an object), and each event's JSON text
is kept as it came (msgspec.Raw). A body that is not JSON, or neither an event object nor an array
of events, is poison as a whole. Inside a good body, an event that cannot become a row is poison
on its own (the per-event path below, taken only when the whole-body check fails); the rest are
inserted.

Web enrichment (events/enrich.py): an event with browser context (web properties such as
`$current_url`, or a browser's User-Agent recorded by ingest) gets its enrichment keys
(device_type, browser, os, country, ...: columns of migration 0004) appended to its JSON text; the
same decoder pass reads the few properties enrichment needs (`Web`), so the event is not parsed
again in Python. Only an event that needs more (a `$ip` property to drop, a session to fill in over
an empty one, a key that is already a column) is rebuilt as a dict. Other events keep their text
untouched. The ingest_* fields match no column, so ClickHouse drops them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Union

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from observatory.events import enrich
from observatory.store.sink import Item

_TZ = Annotated[datetime, msgspec.Meta(tz=True)]


class Row(msgspec.Struct, gc=False):
    """What an event must be to become a row (other keys ride along; the sink's columns decide)."""

    event_id: uuid.UUID
    event_name: Annotated[str, msgspec.Meta(min_length=1)]
    timestamp: _TZ
    user_id: str
    properties: enrich.WebProps  # absent or null: the per-event path stores {}
    received_at: _TZ | None = None  # absent: the sink stores the timestamp, as before
    session_id: str | None | UnsetType = UNSET  # null: ClickHouse stores "", as before
    source: str | None = None
    ingest_user_agent: str | None = None  # the request's User-Agent (web enrichment)
    ingest_client_ip: Any = None
    # an enrichment column sent on the event fails this type: the per-event path overwrites it
    # (never two keys of the same name in the text ClickHouse reads)
    device_type: UnsetType = UNSET
    browser: UnsetType = UNSET
    os: UnsetType = UNSET
    country: UnsetType = UNSET
    acquisition_source: UnsetType = UNSET
    referrer_host: UnsetType = UNSET
    page_path: UnsetType = UNSET
    client_ip: UnsetType = UNSET


@dataclass
class Decoded:
    rows: list[Item] = field(default_factory=list)
    poison: list[tuple[bytes, str, str]] = field(default_factory=list)  # (body, reason code, detail)


class PoisonMessage(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


_ROWS = msgspec.json.Decoder(Union[list[Row], Row])
_TEXTS = msgspec.json.Decoder(list[msgspec.Raw])


def decode(body: bytes, keep_ip: bool = False) -> Decoded:
    try:
        rows = _ROWS.decode(body)
    except msgspec.DecodeError:  # not JSON, or some event is not a row: find out which, one by one
        return _per_event(body, keep_ip)
    if not isinstance(rows, list):
        return Decoded([_item(body, rows, keep_ip)])
    texts = _TEXTS.decode(body)
    return Decoded([_item(text, row, keep_ip) for text, row in zip(texts, rows)])


assert set(enrich.COLUMNS) <= set(Row.__struct_fields__)


def _item(text: bytes | msgspec.Raw, row: Row, keep_ip: bool) -> Item:
    received = row.received_at or row.timestamp
    p = row.properties
    agent = row.ingest_user_agent
    if p == enrich.NO_WEB and not (agent is not None and agent.startswith("Mozilla/")):
        return Item(text, received)  # not a browser event: stored as it came
    ip = row.ingest_client_ip
    columns = enrich.web_columns(p, agent, ip, keep_ip)
    session = row.session_id
    fill = p.session_id[:200] if type(p.session_id) is str and not session else None
    raw = bytes(text)
    tail = _tail(ip if type(ip) is str else None, agent)
    head = None
    if raw.endswith(tail) and (fill is None or session is UNSET):
        head = raw[: -len(tail)]  # without the ingest_* fields ingest appended, nor the closing brace
        if p.ip is not UNSET and not keep_ip:
            head = _without_ip(head, p.ip)  # None: not found as ingest writes it: rebuilt below
    if head is None:  # a key to drop or to overwrite: rebuilt once
        ev = orjson.loads(raw)
        ev.pop("ingest_client_ip", None)
        ev.pop("ingest_user_agent", None)
        if not keep_ip:
            ev["properties"].pop("$ip", None)
        if fill is not None:
            ev["session_id"], fill = fill, None
        head = orjson.dumps(ev)[:-1]
    suffix = _suffix(*columns)
    if fill is not None:  # a session id is per session: kept out of the cached suffix
        suffix = b',"session_id":' + orjson.dumps(fill) + suffix
    return Item(head + suffix, received)


def _without_ip(head: bytes, ip: object) -> bytes | None:
    """The event's text without its `"$ip":"…"` property, cut out of the text as orjson wrote it
    (ingest's encoder: compact, so the key and its string value are these exact bytes). Only when
    `"$ip":` occurs once in the whole text, so the cut is the properties' own key (inside a JSON
    string a quote is always escaped, so these bytes cannot be part of a string); anything else (a
    nested `$ip`, a value that is not a string, another encoder's spacing) returns None and the
    event is rebuilt from its parsed JSON instead."""
    if type(ip) is not str or head.count(b'"$ip":') != 1:
        return None
    fragment = b'"$ip":' + orjson.dumps(ip)
    at = head.find(fragment)
    if at < 1:
        return None
    end = at + len(fragment)
    before, after = head[at - 1 : at], head[end : end + 1]
    if before == b",":  # ..., "$ip":"…"  (then "," or "}")
        return head[: at - 1] + head[end:] if after in (b",", b"}") else None
    if before == b"{":  # {"$ip":"…", ...}  or  {"$ip":"…"}
        if after == b",":
            return head[:at] + head[end + 1 :]
        if after == b"}":
            return head[:at] + head[end:]
    return None


@lru_cache(maxsize=65536)
def _tail(ip: str | None, agent: str | None) -> bytes:
    """How ingest ends an event it recorded the client of (pipeline.client_context appends the
    reserved fields last, encoded by orjson), with the closing brace."""
    tail = b"}"
    if agent is not None:
        tail = b',"ingest_user_agent":' + orjson.dumps(agent) + tail
    if ip is not None:
        tail = b',"ingest_client_ip":' + orjson.dumps(ip) + tail
    return tail


@lru_cache(maxsize=65536)
def _suffix(*columns: str) -> bytes:
    """`,"device_type":…}`: the enrichment columns (COLUMNS order) as the keys that close an event's
    text (their values are bounded sets, a page path and a referrer host: few distinct suffixes)."""
    return b"," + orjson.dumps(dict(zip(enrich.COLUMNS, columns)))[1:]


def _enriched(ev: dict[str, Any], keep_ip: bool) -> dict[str, Any]:
    """The event with its web enrichment keys, its session from `$session_id` when it has none, and
    neither `$ip` nor the ingest_* fields unless the IP is kept."""
    props = ev.get("properties") or {}
    columns, props = enrich.enrich(ev, props, keep_ip)
    out = {k: v for k, v in ev.items() if k not in enrich.RESERVED}
    out.update(zip(enrich.COLUMNS, columns))
    out["properties"] = props
    if not out.get("session_id") and isinstance(props.get("$session_id"), str):
        out["session_id"] = props["$session_id"][:200]  # SDKs (PostHog) send the session as a property
    return out


def _per_event(body: bytes, keep_ip: bool = False) -> Decoded:
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
        except (ValueError, KeyError, TypeError, AttributeError, msgspec.ValidationError) as exc:
            out.poison.append((orjson.dumps(ev), "invalid_event", str(exc) or type(exc).__name__))
    return out


def to_row(ev: object, keep_ip: bool = False) -> Item:
    """One event of a body that failed the whole-body check: the old row rules, and a normalised
    JSON text (missing or null optional fields filled in) for the ones that pass."""
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
    timestamp = _ts(ev.get("timestamp"))
    received = _ts(ev.get("received_at") or ev.get("timestamp"))
    normal = {
        **ev,
        "event_id": str(uuid.UUID(ev["event_id"])),
        "timestamp": timestamp.isoformat(),
        "received_at": received.isoformat(),
        "session_id": session,
        "properties": props,
        "source": source,
    }
    agent = ev.get("ingest_user_agent")
    if enrich.wanted(props, agent if isinstance(agent, str) else None):
        normal = _enriched(normal, keep_ip)
    return Item(orjson.dumps(normal), received)


def _ts(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError("timestamp lacks a zone")
    return ts
