"""Compiled validation: msgspec types generated from the event schema (config/events/schema.yml).

The fast path checks an event in C (msgspec.convert against generated Structs and constrained
types), then finishes in a few Python comparisons. It only ever ACCEPTS: whenever it does not
recognise an event as valid (a constraint failed, an unusual but possibly valid form such as a
timestamp with an offset, a subclass of str), the event goes to the reference rules in
validate.py, which decide and give the rejection code and message. So the compiled path can be
stricter than the rules (it then costs the slow path), never looser, and a valid event leaves
both paths as the same dict. tests/unit/test_events_compiled.py holds the two to that.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol, Union

import msgspec
from msgspec import UNSET, Meta, UnsetType

from observatory.events.schema import EventSchema, Limits, PropertySpec, ValidatedEvent

FMAX = sys.float_info.max
_FINITE = Meta(ge=-FMAX, le=FMAX)  # refuses inf and nan, as math.isfinite does


def bounds_type(lim: Limits) -> Any:
    """`properties` under the schema limits: string and key lengths, finite numbers, nesting depth
    (the properties object is level 1), array lengths and the number of top-level keys."""
    text = Annotated[str, Meta(max_length=lim.max_string_length)]
    value: Any = Union[text, int, Annotated[float, _FINITE], bool, None]
    for _ in range(max(lim.max_depth - 1, 0)):
        value = Union[
            text,
            int,
            Annotated[float, _FINITE],
            bool,
            None,
            Annotated[list[value], Meta(max_length=lim.max_array_length)],
            dict[text, value],
        ]
    return Annotated[dict[text, value], Meta(max_length=lim.max_properties)]


class EventStruct(Protocol):
    """The fields of the Struct event_type builds (at run time, so the checker sees this instead)."""

    event_name: str
    user_id: str
    event_id: uuid.UUID | None
    timestamp: datetime | None
    session_id: str | None
    properties: dict[str, Any] | None


def event_type(lim: Limits) -> type:
    """The top level: exactly the known fields, lengths of the ids, the event id a UUID."""
    ident = Annotated[str, Meta(max_length=lim.max_id_length)]
    return msgspec.defstruct(
        "Event",
        [
            ("event_name", Annotated[str, Meta(min_length=1, max_length=lim.max_event_name_length)]),
            ("user_id", Annotated[str, Meta(min_length=1, max_length=lim.max_id_length)]),
            ("event_id", Union[uuid.UUID, None], None),  # C parser; the 32-digit form is refused later
            ("timestamp", Union[datetime, None], None),
            ("session_id", Union[ident, None], None),
            ("properties", Union[bounds_type(lim), None], None),
        ],
        forbid_unknown_fields=True,
        gc=False,
    )


_SCALARS = {"string": str, "number": Annotated[float, _FINITE], "integer": int, "boolean": bool, "object": dict}


def _compilable(spec: PropertySpec) -> bool:
    """The combinations of options whose meaning a msgspec type states exactly; others stay in Python."""
    if spec.enum is not None and not (
        spec.type == "string"
        and all(type(v) is str for v in spec.enum)
        and all(len(v) <= (spec.max_length or len(v)) for v in spec.enum)
    ):
        return False
    if spec.minimum is not None and spec.type not in ("number", "integer"):
        return False
    if spec.max_length is not None and spec.type not in ("string", "array", "object"):
        return False
    if spec.type != "array" and (spec.min_items is not None or spec.item_type or spec.item_required_keys):
        return False
    if spec.item_required_keys and spec.item_type != "object":
        return False
    if spec.item_type == "array":  # convert takes a tuple for a list; the rules do not
        return False
    return True


def _property_type(event: str, spec: PropertySpec) -> Any:
    meta: dict[str, Any] = {}
    if spec.max_length is not None:
        meta["max_length"] = spec.max_length
    if spec.type == "string" and spec.enum is not None:
        return Literal[spec.enum]
    if spec.type in ("number", "integer") and spec.minimum is not None:
        base: Any = float if spec.type == "number" else int
        meta["ge"] = spec.minimum
        if spec.type == "number":
            meta["ge"], meta["le"] = max(spec.minimum, -FMAX), FMAX
        return Annotated[base, Meta(**meta)]
    if spec.type == "array":
        if spec.min_items is not None:
            meta["min_length"] = spec.min_items
        item: Any = Any
        if spec.item_required_keys:
            item = msgspec.defstruct(f"{event}_{spec.name}_item", [(k, Any) for k in spec.item_required_keys], gc=False)
        elif spec.item_type:
            item = _SCALARS[spec.item_type]
        return Annotated[list[item], Meta(**meta)] if meta else list[item]
    scalar: Any = _SCALARS[spec.type]
    return Annotated[scalar, Meta(**meta)] if meta else scalar


@dataclass(frozen=True)
class CompiledEvent:
    properties: type | None  # Struct of the typed properties (None: no compilable spec)
    lists: tuple[str, ...]  # array properties: also `type(value) is list` (convert takes tuples)
    python_specs: bool  # some spec is not compilable: the reference check runs too


def compile_event(name: str, specs: tuple[PropertySpec, ...]) -> CompiledEvent:
    fields = []
    for spec in specs:
        if not _compilable(spec):
            return CompiledEvent(None, (), True)
        t = _property_type(name, spec)
        fields.append((spec.name, t) if spec.required else (spec.name, Union[t, UnsetType], UNSET))
    fields.sort(key=lambda f: len(f) == 3)  # required fields first, as a Struct needs
    struct = msgspec.defstruct(f"{name}_properties", fields, gc=False) if fields else None
    return CompiledEvent(struct, tuple(s.name for s in specs if s.type == "array"), False)


class FastPath:
    """Validate a request's events in one msgspec.convert of the whole list, then a few Python
    comparisons per event. run() gives, per event, the normalised dict or None (not recognised:
    the reference rules decide)."""

    def __init__(self, schema: EventSchema, strict: bool, new_id: Callable[[], str]) -> None:
        self.new_id = new_id
        self.event: type[EventStruct] = event_type(schema.limits)
        # a Struct around the list: msgspec caches a Struct's type info, not a list[...] alias's.
        # gc=False: these Structs are thrown away at once and hold no cycles; thousands of tracked
        # objects per request would trigger the cyclic GC on the hot path
        self.batch: Any = msgspec.defstruct("Batch", [("events", list[self.event])], gc=False)  # type: ignore[name-defined]  # a type built at run time
        self.events = {name: compile_event(name, specs) for name, specs in schema.events.items()}
        self.strict = strict
        self._window: tuple[str, str, str] = ("", "", "")  # (second of `received`, lo, hi)

    def _bounds(self, received: str, window: tuple[datetime, datetime]) -> tuple[str, str]:
        """The window as normalised strings, computed once per second of receive time."""
        second, lo, hi = self._window
        if received[:19] != second:
            lo, hi = _second_bounds(window)
            self._window = (received[:19], lo, hi)
        return lo, hi

    def run(
        self, raws: list[Any], received: str, window: tuple[datetime, datetime], source: str
    ) -> list[ValidatedEvent | None]:
        structs: list[EventStruct | None]
        try:
            structs = msgspec.convert({"events": raws}, self.batch).events
        except msgspec.ValidationError:  # some event is not recognised: the others still can be
            structs = [self._struct(raw) for raw in raws]
        lo, hi = self._bounds(received, window)
        known, strict, convert, invalid = self.events.get, self.strict, msgspec.convert, msgspec.ValidationError
        new_id = self.new_id
        out: list[ValidatedEvent | None] = []
        add = out.append
        for raw, ev in zip(raws, structs):  # one loop, no call per event: this is the hot path
            if ev is None:
                add(None)
                continue
            name, user, session, ts = ev.event_name, ev.user_id, ev.session_id, ev.timestamp
            # convert takes dict and str subclasses and the 32-digit UUID form; the rules do not
            if (
                type(raw) is not dict
                or type(name) is not str
                or type(user) is not str
                or not name.strip()
                or (session is not None and type(session) is not str)
            ):
                add(None)
                continue
            event = known(name)
            if event is None:
                if strict:
                    add(None)
                    continue
            elif event.python_specs:
                add(None)
                continue
            if ts is None:
                timestamp = received
            else:
                timestamp = raw["timestamp"]
                if not (
                    type(timestamp) is str
                    and len(timestamp) in _TS_LENGTHS
                    and timestamp[-1] == "Z"
                    and timestamp[10] == "T"
                    and timestamp[19] == "."
                ):
                    add(None)
                    continue
                timestamp = timestamp[:23] + "Z"
                if not lo <= timestamp <= hi:
                    add(None)
                    continue
            if ev.event_id is None:
                event_id = new_id()
            else:
                event_id = raw["event_id"]
                if type(event_id) is not str or len(event_id) != 36:
                    add(None)
                    continue
                event_id = event_id.lower()
            props = raw.get("properties")
            if props is None:
                props = {}
            elif type(props) is not dict:
                add(None)
                continue
            if event is not None:
                if event.properties is not None:
                    try:
                        convert(props, event.properties)
                    except invalid:
                        add(None)
                        continue
                if event.lists and any(type(props.get(k, ())) is not list for k in event.lists if k in props):
                    add(None)
                    continue
            # validate.py's normalised event, written out here on purpose: a function call costs about
            # 5% of this path's per-event time; tests/unit/test_events_compiled.py holds the two equal
            add(
                {
                    "event_id": event_id,
                    "event_name": name,
                    "timestamp": timestamp,
                    "user_id": user,
                    "session_id": session or "",
                    "properties": props,
                    "received_at": received,
                    "source": source,
                }
            )
        return out

    def _struct(self, raw: object) -> EventStruct | None:
        try:
            return msgspec.convert(raw, self.event)
        except msgspec.ValidationError:
            return None


# Timestamps written as JavaScript's toISOString (milliseconds) or Python's isoformat + Z
# (microseconds): msgspec parsed them as RFC 3339 like datetime.fromisoformat (the rules) does,
# and then their first 23 characters plus `Z` are what format_ts writes. Other forms (offsets,
# no fraction, a space for the T) take the reference path.
_TS_LENGTHS = (24, 27)
_MS = timedelta(milliseconds=1)
_SECOND = timedelta(seconds=1)


def _second_bounds(window: tuple[datetime, datetime]) -> tuple[str, str]:
    """The window as normalised strings (same length and form, so they compare as times do),
    narrowed to whole seconds inside it and 1 ms more at the top: a timestamp truncated to the
    millisecond that lies between them lies in the window at full precision, and so does it for
    any receive time in the same second (the window's sizes are whole seconds). Within a second
    of an edge the reference path decides."""
    lo, hi = window
    return _fmt(lo.replace(microsecond=0) + _SECOND), _fmt(hi.replace(microsecond=0) - _MS)


def _fmt(ts: datetime) -> str:
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
