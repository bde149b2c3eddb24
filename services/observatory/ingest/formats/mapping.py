"""Pure helpers shared by the SDK mappings: ids, clock-skew correction, nesting, key conflicts."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import orjson

# Namespace of the deterministic ids given to SDK message ids that are not UUIDs.
SDK_NAMESPACE = uuid.UUID("6f0b6c2e-59a4-4d0e-9a55-4b1f3d7f0c10")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
NESTING_KEPT = 3  # levels below `properties` kept as objects; deeper values are stored as JSON text


def event_id(message_id: object, source: str) -> str | None:
    """The SDK's id when it is a UUID, else uuid5(source + id) so retries keep one identity."""
    if message_id is None or message_id == "":
        return None
    text = str(message_id)
    if _UUID.match(text):
        return str(uuid.UUID(text))
    return str(uuid.uuid5(SDK_NAMESPACE, f"{source}\x00{text}"))


def parse_time(value: object) -> datetime | None:
    """ISO-8601 (zone required; a naive time is taken as UTC) or epoch milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=_utc())
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
        return ts if ts.tzinfo else ts.replace(tzinfo=_utc())
    return None


def _utc():
    return timezone.utc


def format_ts(ts: datetime) -> str:
    """UTC ISO-8601 with milliseconds and `Z` (what the validator accepts and normalises)."""
    return ts.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def corrected_timestamp(timestamp: object, sent_at: object, received_at: datetime,
                        ignore_sent_at: bool = False) -> object:
    """PostHog's rule: received_at - (sent_at - timestamp), unless the skew cannot be computed.

    Returns the value for the native `timestamp` field: an ISO string, or the raw value (so the
    validator reports an unparseable timestamp), or None (the receive time is used).
    """
    if timestamp is None:
        return None
    ts = parse_time(timestamp)
    if ts is None:
        return timestamp if isinstance(timestamp, str) else str(timestamp)
    sent = None if ignore_sent_at else parse_time(sent_at)
    if sent is not None:
        ts = received_at - (sent - ts)
    return format_ts(ts)


def offset_timestamp(offset_ms: object, received_at: datetime) -> str | None:
    if isinstance(offset_ms, (int, float)) and not isinstance(offset_ms, bool):
        return format_ts(received_at - timedelta(milliseconds=offset_ms))
    return None


def as_id(value: object) -> str | None:
    """SDK ids may be strings or numbers; empty and null mean absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def fit_nesting(props: dict, keep: int = NESTING_KEPT) -> dict:
    """Objects/arrays nested deeper than `keep` levels below `properties` become JSON text."""
    def walk(value, depth):
        if type(value) is dict:
            if depth >= keep:
                return orjson.dumps(value).decode()
            return {k: walk(v, depth + 1) for k, v in value.items()}
        if type(value) is list:
            if depth >= keep:
                return orjson.dumps(value).decode()
            return [walk(v, depth + 1) for v in value]
        return value
    return {k: walk(v, 1) for k, v in props.items()}


__all__ = ["event_id", "corrected_timestamp", "offset_timestamp", "as_id", "fit_nesting", "format_ts"]
