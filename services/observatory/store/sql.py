"""Ad-hoc SQL, as `observatory query` and the private `POST /v1/query` route run it.

open_session(settings, read_only=...)  a client whose session database is OBS_CLICKHOUSE_DATABASE
                                       (so `SELECT count() FROM events` works); read_only: the
                                       session is `readonly=1` (ClickHouse refuses every write,
                                       settings change and table function) with the caps of
                                       QuerySettings (time, memory, rows read, result rows/bytes);
                                       a login that is read-only already (the `query_api` user)
                                       keeps its profile's caps
run(client, sql, database)             `{db}` filled in, rows encoded ONCE for both paths (JSON-safe
                                       values, see `jsonable`): the CLI prints the same rows whether
                                       it read the embedded store itself or asked the running stack
first_keyword(sql)                     the statement's first keyword (for log lines: not its text)
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from observatory.settings import QuerySettings, StoreSettings
from observatory.store.client import _redact, chdb_path, connect

LIMIT_ERRORS = {  # ClickHouse errors of a statement that went over a cap: 400 limit_exceeded
    158: "too many rows (max_rows_to_read / max_result_rows)",  # TOO_MANY_ROWS
    159: "took too long (max_execution_time)",  # TIMEOUT_EXCEEDED
    160: "too slow (max_execution_time estimate)",  # TOO_SLOW
    241: "too much memory (max_memory_usage)",  # MEMORY_LIMIT_EXCEEDED
    307: "too many bytes (max_result_bytes)",  # TOO_MANY_BYTES
    396: "too many rows or bytes in the result (max_result_rows / max_result_bytes)",  # TOO_MANY_ROWS_OR_BYTES
}


def read_only_session(caps: QuerySettings) -> dict[str, Any]:
    """The session settings of the read API. Order matters: readonly last, once it is set no setting
    can change (not even by the query, were one to get a SETTINGS clause past store/sql_guard.py)."""
    return {
        "max_execution_time": caps.max_seconds,
        "timeout_overflow_mode": "throw",
        "max_memory_usage": caps.max_memory_bytes,
        "max_rows_to_read": caps.max_rows_to_read,
        "read_overflow_mode": "throw",
        "max_result_rows": caps.max_result_rows,
        "max_result_bytes": caps.max_result_bytes,
        "result_overflow_mode": "throw",
        "readonly": 1,
    }


_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)  # blanks, comments, opening parens
_WORD = re.compile(r"[A-Za-z]+")
READONLY_ERROR = 164  # ClickHouse READONLY: "Cannot execute query in readonly mode"


@dataclass
class Rows:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "row_count": len(self.rows)}


def open_session(settings: StoreSettings, *, read_only: bool = False, caps: QuerySettings | None = None) -> Client:
    """A client on the configured store with the session database set (when it exists yet)."""
    client = connect(settings)
    try:
        if read_only:
            current = client.server_settings.get("readonly")
            if current is None or current.value in ("", "0"):  # else: a read-only login, its profile caps it
                for key, value in read_only_session(caps or QuerySettings()).items():
                    client.set_client_setting(key, value)
        names = {r[0] for r in client.query("SELECT name FROM system.databases").result_rows}
        if settings.database in names:
            client.database = settings.database
    except Exception:
        client.close()
        raise
    return client


def where(settings: StoreSettings) -> str:
    """The store a session opens, for messages (no password)."""
    path = chdb_path(settings.dsn)
    return f"embedded store {path}" if path else f"ClickHouse {_redact(settings.dsn)}"


def first_keyword(sql: str) -> str:
    leading = _LEADING.match(sql)  # matches every string (it may match nothing)
    rest = sql[leading.end() if leading else 0 :]
    word = _WORD.match(rest)
    return word.group(0).upper() if word else ""


def jsonable(value: Any) -> Any:
    """One encoding for every printed or served value: JSON types as they are (non-finite floats as
    text, map keys as text), everything else (dates, decimals, UUIDs, IPs) as its `str()`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def run(client: Client, sql: str, database: str) -> Rows:
    result = client.query(sql.replace("{db}", database))
    return Rows(
        list(result.column_names),
        [t.name for t in result.column_types],
        [[jsonable(v) for v in row] for row in result.result_rows],
    )


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code of a driver exception (`code` attribute, or `Code: N.` in the text)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    m = re.search(r"Code: (\d+)\.", str(exc))
    return int(m.group(1)) if m else None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
