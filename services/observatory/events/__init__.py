"""The event model: schema loading and validation (pure functions, no I/O beyond reading the schema)."""

from observatory.events.schema import EventSchema, load_schema
from observatory.events.validate import Rejection, ValidatedEvent, Validator

__all__ = ["EventSchema", "load_schema", "Rejection", "ValidatedEvent", "Validator"]
