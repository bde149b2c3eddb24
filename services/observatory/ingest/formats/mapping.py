"""Pure helpers shared by the SDK mappings: ids, clock-skew correction, nesting, key conflicts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import orjson

from observatory.events.validate import format_ts  # UTC ISO-8601 with milliseconds and `Z`

# Namespace of the deterministic ids given to SDK message ids that are not UUIDs.
SDK_NAMESPACE = uuid.UUID("6f0b6c2e-59a4-4d0e-9a55-4b1f3d7f0c10")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
NESTING_KEPT = 3  # levels below `properties` kept as objects; deeper values are stored as JSON text


_CANONICAL = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def event_id(message_id: object, source: str) -> str | None:
    """The SDK's id when it is a UUID, else uuid5(source + id) so retries keep one identity."""
    if message_id is None or message_id == "":
        return None
    text = message_id if type(message_id) is str else str(message_id)
    if _CANONICAL.match(text):
        return text  # the validator lower-cases it
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


def _utc() -> tzinfo:
    return UTC


def skew(sent_at: object, received_at: datetime) -> timedelta | None:
    """received_at - sent_at: what PostHog adds to each event's timestamp (None without a usable sent_at)."""
    sent = parse_time(sent_at)
    return None if sent is None else received_at - sent


def corrected_timestamp(timestamp: object, clock_skew: timedelta | None, ignore_sent_at: bool = False) -> object:
    """PostHog's rule: received_at - (sent_at - timestamp) = timestamp + skew.

    Returns the value for the native `timestamp` field: an ISO string, or the raw value (so the
    validator reports an unparseable timestamp), or None (the receive time is used).
    """
    if timestamp is None:
        return None
    if (clock_skew is None or ignore_sent_at) and type(timestamp) is str:
        return timestamp  # nothing to correct: the validator parses and normalises it
    ts = parse_time(timestamp)
    if ts is None:
        return timestamp if isinstance(timestamp, str) else str(timestamp)
    if clock_skew is not None and not ignore_sent_at:
        ts = ts + clock_skew
    return ts.isoformat()


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


def fit_nesting(props: dict[str, Any], keep: int = NESTING_KEPT) -> dict[str, Any]:
    """Objects/arrays nested deeper than `keep` levels below `properties` become JSON text.
    Returns `props` itself when nothing is that deep (the common case: no copy)."""
    out: dict[str, Any] | None = None
    for key, value in props.items():
        kind = type(value)
        if kind is dict or kind is list:
            fitted = _fit(value, 1, keep)
            if fitted is not value:
                if out is None:
                    out = dict(props)
                out[key] = fitted
    return props if out is None else out


def _fit(value: dict[str, Any] | list[Any], depth: int, keep: int) -> dict[str, Any] | list[Any] | str:
    if depth >= keep:
        return orjson.dumps(value).decode()
    out: dict[str, Any] | list[Any] | None = None
    items: Iterable[tuple[Any, Any]] = value.items() if type(value) is dict else enumerate(value)
    for key, sub in items:
        kind = type(sub)
        if kind is dict or kind is list:
            fitted = _fit(sub, depth + 1, keep)
            if fitted is not sub:
                if out is None:
                    out = dict(value) if type(value) is dict else list(value)
                out[key] = fitted
    return value if out is None else out


__all__ = ["event_id", "skew", "corrected_timestamp", "offset_timestamp", "as_id", "fit_nesting", "format_ts"]
