"""The event model: the schema (as data) and validation. Pure: no I/O; the schema file, the clock
and the id source are given by the caller (observatory/events_io.py holds the process's own)."""

from observatory.events.ids import IdSource
from observatory.events.schema import EventSchema, ValidatedEvent, parse_schema
from observatory.events.validate import Rejection, Validator

__all__ = ["EventSchema", "IdSource", "parse_schema", "Rejection", "ValidatedEvent", "Validator"]
