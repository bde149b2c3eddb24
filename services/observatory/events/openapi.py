"""The ingest request body as JSON Schema (OpenAPI 3.1 components), GENERATED from the event schema
(config/events/schema.yml) and its limits, so the documented contract is the one the validator
enforces. What JSON Schema cannot say (the timestamp window, relative to the receive time) is in the
descriptions."""

from __future__ import annotations

from typing import Any

from observatory.events.schema import EventSchema, PropertySpec

UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# not expressible here: an integer literal beyond 64 bits makes the body malformed JSON (400), while
# the same magnitude written as a float (1e20) is fine

JsonSchema = dict[str, Any]  # a JSON Schema object (nested JSON values)


def _ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def _values(schema: EventSchema) -> dict[str, JsonSchema]:
    """PropertyValue0..N: any JSON value nesting at most N more containers (limits.max_depth counts
    `properties` itself as level 1), strings and arrays within their limits."""
    lim = schema.limits
    scalars = [
        {"type": "string", "maxLength": lim.max_string_length},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ]
    out = {"PropertyValue0": {"anyOf": scalars}}
    for level in range(1, lim.max_depth):
        inner = _ref(f"PropertyValue{level - 1}")
        out[f"PropertyValue{level}"] = {
            "anyOf": [
                *scalars,
                {"type": "array", "items": inner},
                {
                    "type": "object",
                    "additionalProperties": inner,
                    "propertyNames": {"maxLength": lim.max_string_length},
                },
            ]
        }
    return out


def _typed(spec: PropertySpec) -> JsonSchema:
    s: JsonSchema = {"type": spec.type}
    if spec.minimum is not None:
        s["minimum"] = spec.minimum
    if spec.max_length is not None:
        s["maxLength" if spec.type == "string" else "maxItems"] = spec.max_length
    if spec.enum is not None:
        s["enum"] = list(spec.enum)
    if spec.type == "array":
        if spec.min_items is not None:
            s["minItems"] = spec.min_items
        if spec.item_type:
            item: JsonSchema = {"type": spec.item_type}
            if spec.item_required_keys:
                item["required"] = list(spec.item_required_keys)
            s["items"] = item
    return s


def _properties(schema: EventSchema, specs: tuple[PropertySpec, ...] = ()) -> JsonSchema:
    lim = schema.limits
    top = f"PropertyValue{lim.max_depth - 1}"
    props = {
        "type": ["object", "null"],
        "maxProperties": lim.max_properties,
        "propertyNames": {"maxLength": lim.max_string_length},
        "additionalProperties": _ref(top),
    }
    if specs:
        props["properties"] = {s.name: {"allOf": [_ref(top), _typed(s)]} for s in specs}
        required = [s.name for s in specs if s.required]
        if required:
            props["type"] = "object"
            props["required"] = required
    return props


def _event(schema: EventSchema, name_schema: JsonSchema, specs: tuple[PropertySpec, ...] = ()) -> JsonSchema:
    lim = schema.limits
    required = ["event_name", "user_id"] + (["properties"] if any(s.required for s in specs) else [])
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {
            "event_name": name_schema,
            "event_id": {
                "type": ["string", "null"],
                "pattern": UUID_PATTERN,
                "description": "a UUID; generated (UUIDv7) when absent",
            },
            "timestamp": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": f"ISO-8601 with a zone, at most {lim.max_past_days} days in the past "
                f"and {lim.max_future_seconds} s ahead of the server; default: receive time",
            },
            "user_id": {"type": "string", "minLength": 1, "maxLength": lim.max_id_length},
            "session_id": {"type": ["string", "null"], "maxLength": lim.max_id_length},
            "properties": _properties(schema, specs),
        },
    }


def components(schema: EventSchema, strict: bool = False) -> dict[str, JsonSchema]:
    """`Event` (one of the known events with their typed properties, or a custom event unless
    strict) plus its building blocks, for `components.schemas`."""
    lim = schema.limits
    out = _values(schema)
    variants = []
    for name, specs in sorted(schema.events.items()):
        key = "Event_" + name
        out[key] = _event(schema, {"const": name}, specs)
        variants.append(_ref(key))
    if not strict:
        out["CustomEvent"] = _event(
            schema,
            {
                "type": "string",
                "minLength": 1,
                "maxLength": lim.max_event_name_length,
                "pattern": r"\S",
                "not": {"enum": sorted(schema.events)},
            },
        )
        variants.append(_ref("CustomEvent"))
    out["Event"] = {
        "anyOf": variants,
        "description": "a known event with its typed properties"
        + ("" if strict else ", or a custom event (any other name)"),
    }
    return out
