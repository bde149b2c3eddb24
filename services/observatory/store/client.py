"""A ClickHouse client from a DSN: `http(s)://user:pass@host:8123` for a server, `chdb:///abs/path`
for the embedded engine (chDB, same SQL). chDB lets one process hold a data folder at a time."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from observatory.settings import StoreSettings


class StoreError(RuntimeError):
    pass


def chdb_path(dsn: str) -> Path | None:
    if not dsn.startswith("chdb://"):
        return None
    path = dsn[len("chdb://") :]
    if not path.startswith("/"):
        raise StoreError(f"chDB DSN needs an absolute path (chdb:///abs/path), got {dsn!r}")
    return Path(path)


def held_elsewhere(path: Path) -> bool:
    """Whether another process holds the chDB folder (its engine keeps `status` flock-ed while open).
    The error chDB raises then does not always say so, hence this check."""
    import fcntl

    try:
        with open(path / "status", "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def connect(settings: StoreSettings, session: dict[str, Any] | None = None) -> Client:
    """`session`: ClickHouse settings applied to the client's session, in order (see store.sql)."""
    path = chdb_path(settings.dsn)
    try:
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=f"chdb://{path}", settings=session)
        # no HTTP session: every setting travels with each query, and a ClickHouse server refuses a second
        # query of one session while the first runs (SESSION_IS_LOCKED), which the read API's concurrent
        # requests and the web overview's parallel reads would hit on the shared client
        return clickhouse_connect.get_client(dsn=settings.dsn, settings=session, autogenerate_session_id=False)
    except Exception as exc:  # noqa: BLE001 - surface any driver failure with the DSN's kind
        kind = "embedded chDB folder" if path else "ClickHouse server"
        raise StoreError(f"cannot open {kind} {path or _redact(settings.dsn)}: {exc}") from exc


def render(sql: str, **values: object) -> str:
    """Fill `${db}`-style placeholders (database name, TTL); query values use bound parameters."""
    return Template(sql).substitute(**values)


def _redact(dsn: str) -> str:
    if "@" not in dsn:
        return dsn
    scheme, _, rest = dsn.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
