"""The event model's I/O, kept out of the pure observatory.events package: reading the schema
file, and the process's id source (the OS random source and the wall clock). The app factories
and tools call these and hand the results to observatory.events."""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from observatory.events.ids import IdSource
from observatory.events.schema import EventSchema, SchemaError, parse_schema


def load_schema(path: Path) -> EventSchema:
    """Read and check the YAML event schema (config/events/schema.yml)."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise SchemaError(f"event schema not found: {path}") from exc
    return parse_schema(doc)


# One source per process: os.urandom drawn in blocks, forgotten in a forked child.
new_event_id = IdSource(os.urandom, time.time_ns)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=new_event_id.forget)
