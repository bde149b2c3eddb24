"""`-- @include NAME` in the analytics queries (store/queries/include/): what the loader puts in, what
it refuses, and that the web queries' sessions definition exists once. The queries' results are held
to an independent Python reference in tests/integration/analytics/test_queries.py."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from observatory.store.analytics import QueryFileError, _fragment, expand_includes, queries

WEB = {
    "web_overview",
    "web_traffic",
    "session_duration",
    "entry_pages",
    "exit_pages",
    "traffic_sources",
    "top_referrers",
    "web_breakdown",
}


def test_the_marker_line_becomes_the_included_sql():
    sql = "-- q\nWITH\n    -- @include one\nSELECT * FROM one\n"
    assert expand_includes(sql, "q.sql", {"one": "one AS (SELECT 1)"}) == (
        "-- q\nWITH\none AS (SELECT 1)\nSELECT * FROM one\n"
    )


def test_an_included_file_is_its_sql_without_its_comment_block():
    text = "-- what it is\n--\n-- its columns\n\nx AS\n(\n    SELECT 1 -- one\n)\n"
    assert _fragment("x", text) == "x AS\n(\n    SELECT 1 -- one\n)"


def test_an_unknown_include_names_the_file_the_line_and_what_exists():
    with pytest.raises(QueryFileError) as e:
        expand_includes("WITH\n-- @include sesions\nSELECT 1", "web.sql", {"sessions": "s AS (SELECT 1)"})
    assert str(e.value) == "web.sql line 2: no queries/include/sesions.sql to include (there are: sessions)"


@pytest.mark.parametrize("line", ["-- @include", "-- @include sessions extra", "SELECT 1 -- @include sessions"])
def test_a_malformed_marker_is_refused(line):
    with pytest.raises(QueryFileError, match="web.sql line 1: .* is not an include"):
        expand_includes(line, "web.sql", {"sessions": "s AS (SELECT 1)"})


def test_an_included_file_cannot_include():
    with pytest.raises(QueryFileError, match="include/a.sql: an included file cannot include another"):
        _fragment("a", "-- doc\na AS (\n-- @include b\n)")


def test_the_web_queries_share_one_sessions_definition():
    folder = resources.files("observatory.store").joinpath("queries")
    raw = {e.name[:-4]: e.read_text() for e in folder.iterdir() if e.name.endswith(".sql")}
    assert {name for name, sql in raw.items() if "-- @include sessions" in sql} == WEB
    assert not [name for name, sql in raw.items() if re.search(r"^\s*sessions AS\s*\(?\s*$", sql, re.M)]  # no copy
    loaded = queries()
    assert "sessions" not in loaded  # an include is no endpoint
    for name in WEB:
        sql = loaded[name].sql
        assert sql.count("sessions AS\n(") == 1 and "@include" not in sql, name
        assert {"start", "end"} <= set(loaded[name].params), name
    assert loaded["web_breakdown"].params == ("start", "end", "dimension")
    assert loaded["entry_pages"].params == ("start", "end", "limit")
