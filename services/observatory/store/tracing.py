"""Client spans for ClickHouse calls (the forecaster's analytics and model queries)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from clickhouse_connect.driver.client import Client

from observatory import tracing

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

_QUERY_TEXT_MAX = 2000
_SQL_OP = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(\w+)", re.DOTALL)


class TracedClickHouse:
    """A clickhouse-connect client whose query/command/insert calls are client spans; everything else
    is passed through. Query text is recorded (the analytics SQL binds values server-side)."""

    _TRACED = ("query", "command", "insert", "query_df", "query_np", "query_arrow", "raw_query")

    def __init__(self, client: Client, tracer: Tracer, database: str) -> None:
        self._client = client
        self._tracer = tracer
        self._database = database

    def __getattr__(self, name: str) -> Any:  # any attribute of Client
        attr = getattr(self._client, name)
        if name not in self._TRACED:
            return attr

        def traced(*args: Any, **kwargs: Any) -> Any:
            from opentelemetry.trace import SpanKind

            first = args[0] if args else kwargs.get("query") or kwargs.get("cmd") or kwargs.get("table") or ""
            op = "INSERT" if name == "insert" else sql_operation(str(first))
            with self._tracer.start_as_current_span(
                f"{op} {self._database}", kind=SpanKind.CLIENT, record_exception=False, set_status_on_exception=False
            ) as span:
                if span.is_recording():
                    span.set_attributes(
                        {"db.system.name": "clickhouse", "db.namespace": self._database, "db.operation.name": op}
                    )
                    if name == "insert":
                        span.set_attribute("db.collection.name", str(first))
                    else:
                        span.set_attribute("db.query.text", str(first)[:_QUERY_TEXT_MAX])
                try:
                    result = attr(*args, **kwargs)
                except Exception as exc:
                    if span.is_recording():
                        tracing.fail(span, exc)
                    raise
                rows = getattr(result, "row_count", None)
                if isinstance(rows, int) and span.is_recording():
                    span.set_attribute("db.response.returned_rows", rows)
                return result

        return traced


def sql_operation(sql: str) -> str:
    """SELECT, INSERT, ... of a statement (leading comments skipped; WITH ... counts as SELECT)."""
    m = _SQL_OP.match(sql)
    op = m.group(1).upper() if m else "QUERY"
    return "SELECT" if op == "WITH" else op


def traced_clickhouse(client: Client, database: str, component: str = "forecaster") -> Client:
    """The client itself when tracing is off, else a TracedClickHouse around it."""
    tracer = tracing.tracer(component)
    # a proxy answering for every attribute of the Client (__getattr__), so typed as one
    return client if tracer is None else cast(Client, TracedClickHouse(client, tracer, database))
