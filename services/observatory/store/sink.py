"""The ClickHouse sink: one INSERT per batch into <db>.events, parsed by ClickHouse.

The items' JSON texts go to ClickHouse as JSONEachRow; ClickHouse reads them into the table's
columns (the table is the one place that lists them: they are read from DESCRIBE, so a migration
that adds a column needs no change here: an event key of the same name fills it), parses times
best-effort, and the sink adds inserted_at. Columns with a DEFAULT, MATERIALIZED or ALIAS
expression are left to ClickHouse to compute.
The embedded engine (chDB) reads the batch from a temporary file (`file()`), a server from the
request body (`input()`).

An insert that ClickHouse refuses because of the data itself raises store.errors.DataError
(retrying the same items fails again: the consumer bisects the batch and dead-letters the refused
items); any other failure is raised as it is (transient: the consumer retries).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime

import msgspec
from clickhouse_connect.driver.client import Client

from observatory.store.errors import as_data_error


class Item(msgspec.Struct, array_like=True, gc=False):
    """One event for the sink: its JSON text, and when ingest received it (end-to-end latency)."""

    json: bytes | msgspec.Raw
    received_at: datetime


FALLBACK = {"received_at": "timestamp"}  # an event without received_at keeps its timestamp there
STAMP = "inserted_at"  # set by the sink, the same for the whole batch
SETTINGS = {
    "input_format_skip_unknown_fields": 1,
    "input_format_json_read_objects_as_strings": 1,
    "input_format_null_as_default": 1,
}


class ClickHouseSink:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.table = f"{database}.events"
        self.embedded = type(client).__name__ == "ChdbClient"
        self._select: tuple[str, str, str] | None = None  # (columns, select list, input structure)

    def insert(self, rows: list[Item]) -> datetime:
        """Insert the items; returns the inserted_at stamped on them. Raises faults.DataError or a
        transient error (anything else)."""
        now = datetime.now(UTC)
        data = b"\n".join(item.json for item in rows)
        try:
            if self.embedded:
                self._insert_file(now, data)
            else:
                self.client.command(
                    self._sql(now, "input('{structure}') FORMAT JSONEachRow"), data=data, settings=SETTINGS
                )
        except Exception as exc:
            self._select = None  # the table may have changed (a migration, a repair): read it again
            data_error = as_data_error(exc)
            if data_error is not None:
                raise data_error from exc
            raise
        return now

    def _insert_file(self, now: datetime, data: bytes) -> None:
        fd, path = tempfile.mkstemp(prefix="observatory-batch-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self.client.command(self._sql(now, f"file('{path}', 'JSONEachRow', '{{structure}}')"), settings=SETTINGS)
        finally:
            os.unlink(path)

    def _sql(self, now: datetime, source: str) -> str:
        if self._select is None:
            self._select = self._columns()
        columns, select, structure = self._select
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
        return (
            f"INSERT INTO {self.table} ({columns}, {STAMP}) SELECT {select}, "
            f"toDateTime64('{stamp}', 3, 'UTC') FROM {source.format(structure=structure)}"
        )

    def _columns(self) -> tuple[str, str, str]:
        """The table's insertable columns; times are read as text and parsed by ClickHouse."""
        names, select, structure = [], [], []
        for name, ctype, default_kind, *_ in self.client.query(f"DESCRIBE TABLE {self.table}").result_rows:
            if name == STAMP or default_kind in ("DEFAULT", "MATERIALIZED", "ALIAS", "EPHEMERAL"):
                continue
            names.append(f"`{name}`")
            if "DateTime" in ctype:
                structure.append(f"`{name}` String")
                text = f"`{name}`"
                if name in FALLBACK:
                    text = f"if(`{name}` = '', `{FALLBACK[name]}`, `{name}`)"
                select.append(f"CAST(parseDateTime64BestEffort(upperUTF8({text}), 3, 'UTC') AS {ctype})")
            else:
                structure.append(f"`{name}` {ctype}")
                select.append(f"`{name}`")
        return ", ".join(names), ", ".join(select), ", ".join(structure).replace("'", "\\'")
