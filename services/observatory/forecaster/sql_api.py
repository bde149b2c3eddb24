"""POST /v1/query on the PRIVATE listener (forecaster and all-in-one): read-only SQL for a read key.

What `observatory query` uses while the local stack holds the embedded store (chDB lets one process
open a folder). Three walls (docs/query.md): store/sql_guard.py parses the statement and sends only
a re-rendered single SELECT over the project's tables with allowlisted functions; the session is
`readonly=1` with caps (store.sql.read_only_session, OBS_QUERY_*), or on a server the read-only
`query_api` login (OBS_QUERY_CLICKHOUSE_DSN); the JSON answer has a size cap. Guard and query run
in a worker thread: the event loop (ingest, in the all-in-one) keeps serving meanwhile.

Answers: 200 {"columns", "types", "rows", "row_count"} (values encoded by store.sql.jsonable);
400 parse_error / multiple_statements / not_a_select / forbidden_function / forbidden_table /
forbidden_clause (the guard), limit_exceeded (a cap), read_only (ClickHouse refused a write),
query_failed (ClickHouse's message: syntax, unknown table); 413 result_too_large; 401/403 (keys);
503 busy or store_unavailable (Retry-After).
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
from observatory.settings import QuerySettings, StoreSettings
from observatory.store import sql
from observatory.store.client import StoreError
from observatory.store.sql_guard import Refused, guard

log = logging.getLogger("observatory.forecaster")
WRITE_REFUSED = (
    "only read-only statements run through the API (one SELECT or DESCRIBE); {what}. To change data, "
    "stop the local stack and run `observatory query` on the embedded store, or use a ClickHouse "
    "client with a user that may write."
)


class QueryRequest(BaseModel):
    sql: str = Field(
        # parsing is pure Python (~30 ms per KB): 20,000 characters keep the worst case near half a second
        max_length=20_000,
        description="one read-only statement (docs/query.md: one SELECT or DESCRIBE over the project's tables); "
        "`{db}` is replaced by the configured database, which is also the session's default",
    )


class QueryResult(BaseModel):
    columns: list[str]
    types: list[str] = Field(description="ClickHouse type of each column")
    rows: list[list[Any]] = Field(description="dates, decimals, UUIDs as text; NaN/inf as text")
    row_count: int


class ReadOnlyStore:
    """The read-only session, opened on first use (a store that is down is then a 503, not a failed
    start) and shared by requests one at a time; at most `waiting` more wait for it."""

    def __init__(self, store: StoreSettings, caps: QuerySettings | None = None, waiting: int = 4) -> None:
        self.caps = caps or QuerySettings()
        if self.caps.clickhouse_dsn:  # a login of its own for the read API (the read-only `query_api` user)
            store = store.model_copy(update={"dsn": self.caps.clickhouse_dsn})
        self.store, self.waiting = store, waiting
        self._client = None
        self._lock = threading.Lock()
        self._queued = 0

    def _session(self):
        if self._client is None:
            self._client = sql.open_session(self.store, read_only=True, caps=self.caps)
        return self._client

    def run(self, statement: str) -> bytes:
        """Guard, run and encode `statement` (all of it off the event loop): the JSON body."""
        checked = guard(statement, self.store.database)
        with self._lock:
            rows = sql.run(self._session(), checked, self.store.database)
        if len(rows.rows) > self.caps.max_result_rows:  # ClickHouse checks per block (65,536 rows): exact here
            raise ApiError(
                400,
                "limit_exceeded",
                f"the query returned too many rows (max_result_rows): over the {self.caps.max_result_rows:,} of "
                "OBS_QUERY_MAX_RESULT_ROWS; add a LIMIT or aggregate",
            )
        # stdlib json: integers wider than 64 bits (Int128, UInt256) stay exact
        body = json.dumps(rows.as_dict(), ensure_ascii=False).encode()
        if len(body) > self.caps.max_response_bytes:
            raise ApiError(
                413,
                "result_too_large",
                f"the answer is {len(body):,} bytes, over the {self.caps.max_response_bytes:,} of "
                "OBS_QUERY_MAX_RESPONSE_BYTES: select fewer columns or rows (LIMIT), or aggregate",
            )
        return body

    async def query(self, statement: str) -> bytes:
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
    """ClickHouse's answer to the statement: 400 limit_exceeded over a cap, read_only for a write,
    else query_failed."""
    code, message = sql.error_code(exc), sql.first_line(exc)
    if code in sql.LIMIT_ERRORS:
        return ApiError(
            400,
            "limit_exceeded",
            f"the query {sql.LIMIT_ERRORS[code]}: narrow it (WHERE on timestamp, LIMIT, fewer columns). "
            f"ClickHouse: {message[:300]}",
            clickhouse_code=code,
        )
    if code == sql.READONLY_ERROR:
        return ApiError(400, "read_only", WRITE_REFUSED.format(what=f"ClickHouse refused it: {message[:300]}"))
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
            413,
            503,
            e400="refused by the guard (parse_error, multiple_statements, not_a_select, forbidden_function, "
            "forbidden_table, forbidden_clause: docs/query.md), over a cap (limit_exceeded), or ClickHouse "
            "refused it (read_only, query_failed: syntax, unknown column)",
            e413="result_too_large: the JSON answer is over OBS_QUERY_MAX_RESPONSE_BYTES",
        ),
    )
    async def run_query(body: QueryRequest, request: Request) -> Response:
        started = time.monotonic()
        key = getattr(request.state, "api_key", None)
        try:
            payload = await store.query(body.sql)
        except Refused as exc:
            log.warning("query API: refused", extra={"key": key, "reason": exc.code})  # not the text
            raise ApiError(400, exc.code, exc.message) from None
        except (StoreError, OperationalError) as exc:  # down or unreachable (not about this statement)
            raise _unavailable(exc) from None
        except DatabaseError as exc:
            err = _refusal(exc)
            log.warning("query API: ClickHouse refused", extra={"key": key, "reason": err.code})
            raise err from None
        # who ran what kind of statement, not its text (literals in it may be personal data)
        log.info(
            "query API",
            extra={
                "key": key,
                "statement": sql.first_keyword(body.sql),
                "bytes": len(payload),
                "duration_s": round(time.monotonic() - started, 3),
            },
        )
        return Response(payload, media_type="application/json")

    return router
