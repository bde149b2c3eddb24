"""POST /v1/query's answer when ClickHouse refuses the statement (forecaster/sql_api.py `_refusal`).

A refusal other than readonly used to raise TypeError while building the 400 (ApiError got `code`
twice: the error code and ClickHouse's number), so the client saw a 500; found by mypy."""

from __future__ import annotations

from clickhouse_connect.driver.exceptions import DatabaseError

from observatory.forecaster.sql_api import _refusal


def test_a_failed_query_is_a_400_with_clickhouse_s_code_and_message():
    exc = DatabaseError("Code: 62. DB::Exception: Syntax error: failed at position 8 ('FORM'). (SYNTAX_ERROR)\nstack")
    err = _refusal(exc)
    body = err.response().body
    assert err.status == 400 and err.code == "query_failed"
    assert err.extra == {"clickhouse_code": 62}
    assert b'"error":"query_failed"' in body and b"Syntax error: failed at position 8" in body
    assert b"stack" not in body  # the first line only


def test_a_write_refused_by_the_read_only_session_is_read_only():
    err = _refusal(DatabaseError("Code: 164. DB::Exception: Cannot execute query in readonly mode. (READONLY)"))
    assert err.status == 400 and err.code == "read_only"
    assert "ClickHouse refused it: Code: 164." in err.message


def test_a_query_over_a_cap_is_limit_exceeded_with_the_cap_named():
    err = _refusal(DatabaseError("Code: 159. DB::Exception: Timeout exceeded: elapsed 6.0 seconds. (TIMEOUT_EXCEEDED)"))
    assert err.status == 400 and err.code == "limit_exceeded" and err.extra == {"clickhouse_code": 159}
    assert "max_execution_time" in err.message and "Timeout exceeded" in err.message
    err = _refusal(
        DatabaseError("Code: 241. DB::Exception: Memory limit (for query) exceeded. (MEMORY_LIMIT_EXCEEDED)")
    )
    assert err.code == "limit_exceeded" and "max_memory_usage" in err.message
