"""POST /v1/query on the PRIVATE listener (forecaster and all-in-one): read-only SQL for a read key.

What `observatory query` uses while the local stack holds the embedded store (chDB lets one process
open a folder). Enforced by the store, not by parsing: the statement runs in a session of its own
with `readonly=1` (ClickHouse then refuses writes, DDL, settings changes and table functions), a
time cap and a row cap (store.sql.READ_ONLY_SESSION). Statements that do not start with a read
keyword are refused before they reach the store, with the same clear 400.

Answers: 200 {"columns", "types", "rows", "row_count"} (values encoded by store.sql.jsonable);
400 read_only (a write), 400 query_failed (ClickHouse's message: syntax, unknown table, too many
rows, timeout); 401/403 (keys); 503 busy or store_unavailable (Retry-After).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from observatory.api_keys import AUTH_ERRORS, require_scope
from observatory.errors import ApiError, error_responses
from observatory.settings import StoreSettings
from observatory.store import sql
from observatory.store.client import StoreError

log = logging.getLogger("observatory.forecaster")
WRITE_REFUSED = (
    "only read-only statements run through the API ({keywords}); {what}. To change data, "
    "stop the local stack and run `observatory query` on the embedded store, or use a ClickHouse "
    "client with a user that may write."
)


class QueryRequest(BaseModel):
    sql: str = Field(
        min_length=1,
        max_length=100_000,
        description="one read-only statement; `{db}` is replaced "
        "by the configured database, which is also "
        "the session's default",
    )


class QueryResult(BaseModel):
    columns: list[str]
    types: list[str] = Field(description="ClickHouse type of each column")
    rows: list[list[Any]] = Field(description="dates, decimals, UUIDs as text; NaN/inf as text")
    row_count: int


class ReadOnlyStore:
    """The read-only session, opened on first use (a store that is down is then a 503, not a failed
    start) and shared by requests one at a time; at most `waiting` more wait for it."""

    def __init__(self, store: StoreSettings, waiting: int = 4) -> None:
        self.store, self.waiting = store, waiting
        self._client = None
        self._lock = threading.Lock()
        self._queued = 0

    def _session(self):
        if self._client is None:
            self._client = sql.open_session(self.store, read_only=True)
        return self._client

    def run(self, statement: str) -> sql.Rows:
        with self._lock:
            return sql.run(self._session(), statement, self.store.database)

    async def query(self, statement: str) -> sql.Rows:
        if self._queued > self.waiting:
            raise ApiError(
                503,
                "busy",
                f"{self._queued} queries are running or waiting; retry shortly",
                headers={"Retry-After": "5"},
            )
        self._queued += 1
        try:
            return await run_in_threadpool(self.run, statement)
        finally:
            self._queued -= 1

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _unavailable(exc: Exception) -> ApiError:
    log.warning("query API: store unavailable: %s", sql.first_line(exc))
    return ApiError(
        503, "store_unavailable", f"ClickHouse unavailable: {sql.first_line(exc)[:300]}", headers={"Retry-After": "30"}
    )


def _refusal(exc: DatabaseError) -> ApiError:
    """ClickHouse's answer to the statement: 400 read_only for a write, else 400 query_failed."""
    code, message = sql.error_code(exc), sql.first_line(exc)
    if code == sql.READONLY_ERROR:
        return ApiError(
            400,
            "read_only",
            WRITE_REFUSED.format(keywords=", ".join(sql.READ_KEYWORDS), what=f"ClickHouse refused it: {message[:300]}"),
        )
    return ApiError(400, "query_failed", message[:2000], clickhouse_code=code)


def query_router(store: ReadOnlyStore) -> APIRouter:
    router = APIRouter(tags=["query"], responses=AUTH_ERRORS)

    @router.post(
        "/v1/query",
        summary="Run one read-only SQL statement",
        response_model=QueryResult,
        dependencies=[require_scope("read")],
        responses=error_responses(
            400,
            503,
            e400="a write statement (read_only), or ClickHouse refused "
            "the query (query_failed: syntax, unknown table, more "
            f"than {sql.MAX_ROWS} rows, over {sql.MAX_SECONDS} s)",
        ),
    )
    async def run_query(body: QueryRequest, request: Request) -> Response:
        if sql.read_statement(body.sql) is None:
            word = sql.first_keyword(body.sql) or "an empty statement"
            raise ApiError(
                400,
                "read_only",
                WRITE_REFUSED.format(keywords=", ".join(sql.READ_KEYWORDS), what=f"this one starts with {word}"),
            )
        started = time.monotonic()
        try:
            rows = await store.query(body.sql)
        except (StoreError, OperationalError) as exc:  # down or unreachable (not about this statement)
            raise _unavailable(exc) from None
        except DatabaseError as exc:
            raise _refusal(exc) from None
        # who ran what kind of statement, not its text (literals in it may be personal data)
        log.info(
            "query API",
            extra={
                "key": getattr(request.state, "api_key", None),
                "statement": sql.first_keyword(body.sql),
                "rows": len(rows.rows),
                "duration_s": round(time.monotonic() - started, 3),
            },
        )
        # stdlib json: integers wider than 64 bits (Int128, UInt256) stay exact
        return Response(json.dumps(rows.as_dict(), ensure_ascii=False), media_type="application/json")

    return router
