"""Validate one decoded event against the schema and its limits.

Pure: takes a decoded JSON value and the receive time (ids for events sent without one come from
the `new_id` function the Validator is given), returns either the normalised event (the
form that travels through RabbitMQ) or a Rejection with a bounded reason code and a message for
the caller. Codes become metric labels; messages go back to the client.

The rules below are the reference. validate_many first tries the compiled path (events/compiled.py:
msgspec types generated from the same schema), which accepts the common valid event in about a
microsecond; whatever it does not accept is decided here, so codes and messages come from here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from observatory.events.compiled import FastPath
from observatory.events.schema import EventSchema, PropertySpec, ValidatedEvent

TOP_LEVEL = {"event_name", "event_id", "timestamp", "user_id", "session_id", "properties"}
REASON_CODES = (
    "not_an_object",
    "unknown_field",
    "missing_field",
    "invalid_field",
    "name_too_long",
    "unknown_event",
    "invalid_event_id",
    "invalid_timestamp",
    "timestamp_out_of_window",
    "too_many_properties",
    "string_too_long",
    "too_deep",
    "array_too_long",
    "missing_property",
    "invalid_property",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    message: str


def format_ts(ts: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: 2026-11-23T10:00:00.123Z."""
    if ts.tzinfo is UTC:  # every receive time: the text up to the second is formatted once per second
        global _second
        key = (ts.day, ts.hour, ts.minute, ts.second, ts.month, ts.year)
        if _second[0] != key:
            _second = (key, ts.replace(microsecond=0, tzinfo=None).isoformat())
        return f"{_second[1]}.{ts.microsecond // 1000:03d}Z"
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_second: tuple[tuple[int, ...], str] = ((), "")


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_ts(value: str) -> datetime:
    """ISO-8601 with a zone; `Z` accepted. Raises ValueError for naive or malformed times."""
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError("timestamp needs a time zone (e.g. `Z` or `+02:00`)")
    return ts


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class Validator:
    def __init__(self, schema: EventSchema, strict: bool = False, *, new_id: Callable[[], str]) -> None:
        """`new_id()` gives the id (a UUID string) of an event sent without one; the process's
        source is observatory.events_io.new_event_id."""
        self.schema = schema
        self.limits = schema.limits
        self.strict = strict
        self.new_id = new_id
        self.fast = FastPath(schema, strict, new_id)

    # -- public -----------------------------------------------------------------------------
    def validate(self, raw: object, received_at: datetime, source: str) -> ValidatedEvent | Rejection:
        return self.validate_many([raw], received_at, source)[0]

    def validate_many(self, events: list[Any], received_at: datetime, source: str) -> list[ValidatedEvent | Rejection]:
        """Validate a request's events; the receive time and the timestamp window are computed once."""
        window = (
            received_at - timedelta(days=self.limits.max_past_days),
            received_at + timedelta(seconds=self.limits.max_future_seconds),
        )
        received = format_ts(received_at)
        if type(events) is not list:
            events = list(events)
        out = cast("list[ValidatedEvent | Rejection | None]", self.fast.run(events, received, window, source))
        for i, result in enumerate(out):
            if result is None:
                out[i] = self._one(events[i], received_at, received, window, source)
        return cast("list[ValidatedEvent | Rejection]", out)  # no None left

    def validate_reference(
        self, events: list[Any], received_at: datetime, source: str
    ) -> list[ValidatedEvent | Rejection]:
        """The reference rules alone, without the compiled path (the tests hold the two together)."""
        window = (
            received_at - timedelta(days=self.limits.max_past_days),
            received_at + timedelta(seconds=self.limits.max_future_seconds),
        )
        received = format_ts(received_at)
        return [self._one(raw, received_at, received, window, source) for raw in events]

    def _one(
        self, raw: object, received_at: datetime, received: str, window: tuple[datetime, datetime], source: str
    ) -> ValidatedEvent | Rejection:
        lim = self.limits
        if type(raw) is not dict:
            return Rejection("not_an_object", "each event must be a JSON object")
        if not raw.keys() <= TOP_LEVEL:
            extra = raw.keys() - TOP_LEVEL
            return Rejection(
                "unknown_field",
                f"unknown top-level field(s): {', '.join(sorted(extra))}; put custom data in `properties`",
            )
        name = raw.get("event_name")
        if type(name) is not str or not name.strip():
            return Rejection("missing_field", "`event_name` is required and must be a non-empty string")
        if len(name) > lim.max_event_name_length:
            return Rejection("name_too_long", f"`event_name` is longer than {lim.max_event_name_length}")
        specs = self.schema.events.get(name)
        if specs is None and self.strict:
            return Rejection("unknown_event", f"unknown event `{name}` (strict mode)")

        event_id = raw.get("event_id")
        if event_id is None:
            event_id = self.new_id()
        elif type(event_id) is str and _UUID.match(event_id):
            event_id = event_id.lower()
        else:
            return Rejection("invalid_event_id", "`event_id` must be a UUID string (8-4-4-4-12 hex)")

        ts_raw = raw.get("timestamp")
        if ts_raw is None:
            timestamp = received
        else:
            try:
                if type(ts_raw) is not str:
                    raise ValueError("`timestamp` must be an ISO-8601 string")
                ts = parse_ts(ts_raw)
            except ValueError as exc:
                return Rejection("invalid_timestamp", f"`timestamp`: {exc}")
            if ts < window[0]:
                return Rejection(
                    "timestamp_out_of_window", f"`timestamp` is more than {lim.max_past_days} days in the past"
                )
            if ts > window[1]:
                return Rejection(
                    "timestamp_out_of_window", f"`timestamp` is more than {lim.max_future_seconds} s in the future"
                )
            timestamp = format_ts(ts)

        user = raw.get("user_id")
        if type(user) is not str or not user:
            return Rejection("missing_field", "`user_id` is required and must be a non-empty string")
        session = raw.get("session_id")
        if session is not None and type(session) is not str:
            return Rejection("invalid_field", "`session_id` must be a string")
        for field, value in (("user_id", user), ("session_id", session)):
            if value is not None and len(value) > lim.max_id_length:
                return Rejection("invalid_field", f"`{field}` is longer than {lim.max_id_length}")

        props = raw.get("properties")
        if props is None:
            props = {}
        elif type(props) is not dict:
            return Rejection("invalid_field", "`properties` must be an object")
        if len(props) > lim.max_properties:
            return Rejection("too_many_properties", f"`properties` has more than {lim.max_properties} keys")
        problem = self._check_bounds(props)
        if problem:
            return problem
        if specs:
            problem = self._check_specs(name, specs, props)
            if problem:
                return problem

        return {
            "event_id": event_id,
            "event_name": name,
            "timestamp": timestamp,
            "user_id": user,
            "session_id": session or "",
            "properties": props,
            "received_at": received,
            "source": source,
        }

    # -- helpers ------------------------------------------------------------------------------
    def _check_bounds(self, props: dict[str, Any]) -> Rejection | None:
        """Walk `properties` once, iteratively: string lengths, finite numbers, depth, array sizes."""
        lim = self.limits
        stack = [(props, "properties", 1)]
        while stack:
            value, path, depth = stack.pop()
            if depth > lim.max_depth:
                return Rejection("too_deep", f"`{path}` nests deeper than {lim.max_depth} levels")
            items: Iterable[tuple[Any, Any]]
            if type(value) is dict:
                items = value.items()
            else:
                if len(value) > lim.max_array_length:
                    return Rejection("array_too_long", f"`{path}` has more than {lim.max_array_length} items")
                items = enumerate(value)
            for key, sub in items:
                kind = type(sub)
                if kind is str:
                    if len(sub) > lim.max_string_length:
                        return Rejection(
                            "string_too_long", f"`{_join(path, key)}` is longer than {lim.max_string_length} characters"
                        )
                elif kind is dict or kind is list:
                    stack.append((sub, _join(path, key), depth + 1))
                elif kind is float and not math.isfinite(sub):
                    return Rejection("invalid_property", f"`{_join(path, key)}` is not a finite number")
                if type(key) is str and len(key) > lim.max_string_length:
                    return Rejection("string_too_long", f"a key in `{path}` is too long")
        return None

    def _check_specs(self, name: str, specs: tuple[PropertySpec, ...], props: dict[str, Any]) -> Rejection | None:
        for spec in specs:
            if spec.name not in props:
                if spec.required:
                    return Rejection("missing_property", f"`{name}` requires property `{spec.name}` ({spec.type})")
                continue
            value = props[spec.name]
            where = f"`properties.{spec.name}`"
            if not _JSON_TYPES[spec.type](value):
                return Rejection("invalid_property", f"{where} must be of type {spec.type}")
            if spec.minimum is not None and value < spec.minimum:
                return Rejection("invalid_property", f"{where} must be >= {spec.minimum}")
            if spec.max_length is not None and len(value) > spec.max_length:
                return Rejection("invalid_property", f"{where} is longer than {spec.max_length}")
            if spec.enum is not None and value not in spec.enum:
                return Rejection("invalid_property", f"{where} must be one of {list(spec.enum)}")
            if spec.type == "array":
                if spec.min_items is not None and len(value) < spec.min_items:
                    return Rejection("invalid_property", f"{where} needs at least {spec.min_items} item(s)")
                for i, item in enumerate(value):
                    if spec.item_type and not _JSON_TYPES[spec.item_type](item):
                        return Rejection("invalid_property", f"{where}[{i}] must be of type {spec.item_type}")
                    missing = [k for k in spec.item_required_keys if k not in item]
                    if missing:
                        return Rejection("invalid_property", f"{where}[{i}] lacks {', '.join(missing)}")
        return None


def _join(path: str, key: object) -> str:
    return f"{path}[{key}]" if type(key) is int else f"{path}.{key}"
