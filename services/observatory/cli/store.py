"""`observatory migrate` and `observatory query` (directly, or through the running stack's read API)."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from typing import Annotated

import typer

from observatory.cli.common import (
    boot,
    env_settings,
    fail,
    local_defaults,
    read_key_header,
)

app = typer.Typer()


@app.command()
def migrate():
    """Apply pending ClickHouse migrations (also done at consumer start)."""
    from observatory.settings import StoreSettings
    from observatory.store.client import StoreError, connect
    from observatory.store.migrate import migrate as run_migrations

    boot("migrate")
    local_defaults()
    s = env_settings(StoreSettings)
    try:
        client = connect(s)
        done = run_migrations(client, s)
        client.close()
    except StoreError as exc:
        fail(str(exc))
    typer.echo(
        f"applied {len(done)} migration(s)" + "".join(f"\n  {m.version:04d}_{m.name}" for m in done)
        if done
        else "schema is up to date"
    )


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _query_via_api(url: str, sql: str, read_key: str | None) -> tuple[list[str], list[list]]:
    """`observatory query` through a running stack's PRIVATE listener (POST /v1/query, read key)."""
    import httpx

    from observatory.store.sql_guard import Refused, guard

    try:  # the server's own check (docs/query.md), run here first for a message without a round trip
        guard(sql, "db")
    except Refused as exc:
        fail(
            f"refused ({exc.code}): {exc.message}. Through the running stack's API only read-only statements run "
            "(one SELECT or DESCRIBE, docs/query.md). To write, stop the stack (`make local-down`): "
            "`observatory query` then opens the embedded store itself.",
            2,
        )
    headers = read_key_header(read_key)
    if not headers:
        fail(
            f"no read key for {url}: pass --read-key, set OBS_READ_KEY, or start the local stack (`make local` "
            "writes .local/read-key)"
        )
    try:
        r = httpx.post(f"{url.rstrip('/')}/v1/query", json={"sql": sql}, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the private API at {url}: {exc}")
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200:
        fail(
            f"{r.status_code} {body.get('error', '')}: {body.get('message', r.text[:300])}",
            2 if r.status_code == 400 else 1,
        )
    return body["columns"], body["rows"]


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help="SQL; the session's database is OBS_CLICKHOUSE_DATABASE, and `{db}` is replaced by it")
    ],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    dsn: Annotated[str | None, typer.Option(help="ClickHouse DSN (default: OBS_CLICKHOUSE_DSN)")] = None,
    url: Annotated[
        str | None,
        typer.Option(help="ask this PRIVATE listener (POST /v1/query, read-only) instead of opening the store"),
    ] = None,
    read_key: Annotated[str | None, typer.Option(help="for the API: default OBS_READ_KEY or .local/read-key")] = None,
):
    """Run a query and print the rows. Opens the store itself; while the local stack holds the embedded
    store, asks the stack's private API instead (read-only statements). stderr says which."""
    from observatory.settings import StoreSettings
    from observatory.store import sql as adhoc
    from observatory.store.client import StoreError, chdb_path, held_elsewhere

    local_defaults()
    s = env_settings(StoreSettings)
    if dsn:
        s = s.model_copy(update={"dsn": dsn})
    folder = chdb_path(s.dsn)

    def running_stack() -> str:
        """The local stack's private listener (from .local/observatory.env) when it holds the folder."""
        where = (
            f"http://{os.environ.get('OBS_INGEST_PRIVATE_HOST', '127.0.0.1').replace('0.0.0.0', '127.0.0.1')}:"
            f"{os.environ.get('OBS_INGEST_PRIVATE_PORT', '8081')}"
        )
        typer.echo(
            f"query: the embedded store {folder} is held by the running stack; asking its private API "
            f"{where}/v1/query (read-only statements)",
            err=True,
        )
        return where

    if url is not None:
        typer.echo(f"query: asking {url}/v1/query (read-only statements)", err=True)
    elif folder is not None and not dsn and held_elsewhere(folder):
        url = running_stack()
    else:
        try:
            client = adhoc.open_session(s)
        except StoreError as exc:
            if dsn or folder is None or not held_elsewhere(folder):  # (taken since the check above)
                fail(str(exc))
            url = running_stack()
        except Exception as exc:  # noqa: BLE001 - e.g. a server that refuses the login: its message
            fail(adhoc.first_line(exc))
        else:
            typer.echo(f"query: {adhoc.where(s)} (opened directly)", err=True)
            try:
                rows = adhoc.run(client, sql, s.database)
            except Exception as exc:  # noqa: BLE001 - show the store's message, not a traceback
                fail(adhoc.first_line(exc))
            finally:
                client.close()
            names, data = rows.columns, rows.rows
    if url is not None:
        names, data = _query_via_api(url, sql, read_key)
    _print_rows(names, data, fmt)


def _print_rows(names: list[str], rows: list[list], fmt: OutputFormat) -> None:
    """Rows already encoded by store.sql.jsonable (both query paths), so both print the same."""
    if fmt == OutputFormat.json:
        for row in rows:
            typer.echo(json.dumps(dict(zip(names, row)), ensure_ascii=False))
    elif fmt == OutputFormat.csv:
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(names)
        w.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*names)
        for row in rows:
            table.add_row(*(str(v) for v in row))
        Console().print(table)
        typer.echo(f"{len(rows)} row(s)", err=True)
