"""Validate one decoded event against the schema and its limits.

Pure: takes a decoded JSON value and the receive time, returns either the normalised event (the
form that travels through RabbitMQ) or a Rejection with a bounded reason code and a message for
the caller. Codes become metric labels; messages go back to the client.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from observatory.events.ids import uuid7
from observatory.events.schema import EventSchema, PropertySpec

TOP_LEVEL = {"event_name", "event_id", "timestamp", "user_id", "session_id", "properties"}
REASON_CODES = (
    "not_an_object", "unknown_field", "missing_field", "invalid_field", "name_too_long", "unknown_event",
    "invalid_event_id", "invalid_timestamp", "timestamp_out_of_window", "too_many_properties",
    "string_too_long", "too_deep", "array_too_long", "missing_property", "invalid_property",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    message: str


ValidatedEvent = dict


def format_ts(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


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
    def __init__(self, schema: EventSchema, strict: bool = False) -> None:
        self.schema = schema
        self.limits = schema.limits
        self.strict = strict

    # -- public -----------------------------------------------------------------------------
    def validate(self, raw: object, received_at: datetime, source: str) -> ValidatedEvent | Rejection:
        if not isinstance(raw, dict):
            return Rejection("not_an_object", "each event must be a JSON object")
        extra = raw.keys() - TOP_LEVEL
        if extra:
            return Rejection("unknown_field", f"unknown top-level field(s): {', '.join(sorted(extra))}; "
                             "put custom data in `properties`")
        name = raw.get("event_name")
        if not isinstance(name, str) or not name.strip():
            return Rejection("missing_field", "`event_name` is required and must be a non-empty string")
        if len(name) > self.limits.max_event_name_length:
            return Rejection("name_too_long", f"`event_name` is longer than {self.limits.max_event_name_length}")
        specs = self.schema.events.get(name)
        if specs is None and self.strict:
            return Rejection("unknown_event", f"unknown event `{name}` (strict mode)")

        event_id = raw.get("event_id")
        if event_id is None:
            event_id = str(uuid7())
        else:
            try:
                event_id = str(uuid.UUID(event_id)) if isinstance(event_id, str) else None
            except ValueError:
                event_id = None
            if event_id is None:
                return Rejection("invalid_event_id", "`event_id` must be a UUID string")

        ts_raw = raw.get("timestamp")
        if ts_raw is None:
            ts = received_at
        else:
            try:
                if not isinstance(ts_raw, str):
                    raise ValueError("`timestamp` must be an ISO-8601 string")
                ts = parse_ts(ts_raw)
            except ValueError as exc:
                return Rejection("invalid_timestamp", f"`timestamp`: {exc}")
            if ts < received_at - timedelta(days=self.limits.max_past_days):
                return Rejection("timestamp_out_of_window",
                                 f"`timestamp` is more than {self.limits.max_past_days} days in the past")
            if ts > received_at + timedelta(seconds=self.limits.max_future_seconds):
                return Rejection("timestamp_out_of_window",
                                 f"`timestamp` is more than {self.limits.max_future_seconds} s in the future")

        for field in ("user_id", "session_id"):
            value = raw.get(field)
            if field == "user_id" and (not isinstance(value, str) or not value):
                return Rejection("missing_field", "`user_id` is required and must be a non-empty string")
            if value is not None and not isinstance(value, str):
                return Rejection("invalid_field", f"`{field}` must be a string")
            if value is not None and len(value) > self.limits.max_id_length:
                return Rejection("invalid_field", f"`{field}` is longer than {self.limits.max_id_length}")

        props = raw.get("properties", {})
        if props is None:
            props = {}
        if not isinstance(props, dict):
            return Rejection("invalid_field", "`properties` must be an object")
        if len(props) > self.limits.max_properties:
            return Rejection("too_many_properties", f"`properties` has more than {self.limits.max_properties} keys")
        problem = self._check_bounds(props, "properties", 1)
        if problem:
            return problem
        if specs:
            problem = self._check_specs(name, specs, props)
            if problem:
                return problem

        return {
            "event_id": event_id,
            "event_name": name,
            "timestamp": format_ts(ts),
            "user_id": raw["user_id"],
            "session_id": raw.get("session_id") or "",
            "properties": props,
            "received_at": format_ts(received_at),
            "source": source,
        }

    # -- helpers ------------------------------------------------------------------------------
    def _check_bounds(self, value: object, path: str, depth: int) -> Rejection | None:
        lim = self.limits
        if isinstance(value, str):
            if len(value) > lim.max_string_length:
                return Rejection("string_too_long", f"`{path}` is longer than {lim.max_string_length} characters")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return Rejection("invalid_property", f"`{path}` is not a finite number")
        if isinstance(value, (dict, list)):
            if depth > lim.max_depth:
                return Rejection("too_deep", f"`{path}` nests deeper than {lim.max_depth} levels")
            if isinstance(value, list):
                if len(value) > lim.max_array_length:
                    return Rejection("array_too_long", f"`{path}` has more than {lim.max_array_length} items")
                items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
            else:
                for k in value:
                    if len(k) > lim.max_string_length:
                        return Rejection("string_too_long", f"a key in `{path}` is too long")
                items = ((f"{path}.{k}", v) for k, v in value.items())
            for sub_path, sub in items:
                problem = self._check_bounds(sub, sub_path, depth + 1)
                if problem:
                    return problem
        return None

    def _check_specs(self, name: str, specs: tuple[PropertySpec, ...], props: dict) -> Rejection | None:
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
