"""Check the event schema (config/events/schema.yml) given as data, the parsed YAML document.

Pure: reading the file is observatory.events_io.load_schema's job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TYPES = {"string", "number", "integer", "boolean", "array", "object"}
PROPERTY_OPTIONS = {"type", "required", "minimum", "max_length", "enum", "items", "min_items"}


@dataclass(frozen=True)
class Limits:
    max_event_name_length: int = 200
    max_id_length: int = 200
    max_properties: int = 100
    max_string_length: int = 8192
    max_depth: int = 5
    max_array_length: int = 1000
    max_past_days: int = 400
    max_future_seconds: int = 300


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: str
    required: bool = False
    minimum: float | None = None
    max_length: int | None = None
    enum: tuple[Any, ...] | None = None  # JSON values
    min_items: int | None = None
    item_type: str | None = None
    item_required_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventSchema:
    limits: Limits
    events: dict[str, tuple[PropertySpec, ...]] = field(default_factory=dict)


# A valid event in its normalised form (events/validate.py): the wire form's eight fields (`properties`
# any JSON object), plus the reserved ingest_* fields ingest adds for the consumer's enrichment
ValidatedEvent = dict[str, Any]


class SchemaError(ValueError):
    pass


def _property(event: str, name: str, raw: dict[str, Any]) -> PropertySpec:
    unknown = set(raw) - PROPERTY_OPTIONS
    if unknown:
        raise SchemaError(f"{event}.{name}: unknown option(s) {sorted(unknown)}")
    if raw.get("type") not in TYPES:
        raise SchemaError(f"{event}.{name}: type must be one of {sorted(TYPES)}")
    items = raw.get("items") or {}
    if items and items.get("type") not in TYPES:
        raise SchemaError(f"{event}.{name}.items: type must be one of {sorted(TYPES)}")
    return PropertySpec(
        name=name,
        type=raw["type"],
        required=bool(raw.get("required", False)),
        minimum=raw.get("minimum"),
        max_length=raw.get("max_length"),
        enum=tuple(raw["enum"]) if raw.get("enum") else None,
        min_items=raw.get("min_items"),
        item_type=items.get("type"),
        item_required_keys=tuple(items.get("required_keys", ())),
    )


def parse_schema(doc: dict[str, Any]) -> EventSchema:
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise SchemaError("event schema must be a mapping with `version: 1`")
    unknown_limits = set(doc.get("limits") or {}) - set(Limits.__dataclass_fields__)
    if unknown_limits:
        raise SchemaError(f"unknown limit(s) {sorted(unknown_limits)}")
    limits = Limits(**(doc.get("limits") or {}))
    events = {}
    for name, spec in (doc.get("events") or {}).items():
        props = (spec or {}).get("properties") or {}
        events[name] = tuple(_property(name, p, raw or {}) for p, raw in props.items())
    return EventSchema(limits=limits, events=events)
