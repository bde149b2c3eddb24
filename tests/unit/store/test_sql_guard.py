"""store/sql_guard.py over the hostile corpus (tests/unit/data/hostile_sql.txt) and over the queries
the project shows its users: every hostile statement is refused with a machine code, every shown
query passes, and what passes is what is sent (re-rendered: no comment, no unqualified table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from observatory.store.sql_functions import AGGREGATES, SCALARS, allowed
from observatory.store.sql_guard import Refused, guard

DB = "observatory"
CORPUS = Path(__file__).parents[1] / "data" / "hostile_sql.txt"
CODES = {
    "parse_error",
    "multiple_statements",
    "not_a_select",
    "forbidden_function",
    "forbidden_table",
    "forbidden_clause",
}


def hostile() -> list[str]:
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            continue
        out.append({"<empty>": "", "<blank>": "   "}.get(line, line.replace("⏎", "\n")))
    return out


# every SQL the README, the Makefile and the tests of `observatory query` show, and the usual shapes
LEGITIMATE = [
    "SELECT event_name, count() FROM events FINAL GROUP BY 1",
    "SELECT count() FROM events FINAL",
    "select count() from events final",
    "SELECT event_name, count() AS n FROM {db}.events FINAL GROUP BY event_name ORDER BY event_name",
    "SELECT event_id, event_name, timestamp, user_id, properties, source FROM events FINAL ORDER BY event_id",
    "SELECT toDecimal64(59.9, 2) AS price, [1, 2] AS arr, (1, 'a') AS tup, map('k', 1, 'l', 2) AS m, "
    "nan AS not_a_number, -inf AS minus_inf, NULL AS nothing, toUUID('0193a0a4-5c1e-7cc1-9f3a-4b1f5e2d8a10') "
    "AS id, toDate('2026-01-02') AS day, toDateTime64('2026-01-02 03:04:05.678', 3, 'UTC') AS ts, "
    "toInt128('-170141183460469231731687303715884105728') AS wide, 0.1 + 0.2 AS sum, 'zoë \"q\"' AS text, "
    "toIPv4('10.1.2.3') AS ip, true AS yes",
    "SELECT 41 + 1 AS x",
    "SELECT 1",
    "SELECT 1;",
    "DESCRIBE TABLE events",
    "DESC events",
    "SELECT toStartOfDay(timestamp) AS day, uniqExact(user_id) FROM events FINAL "
    "WHERE timestamp > now() - INTERVAL 30 DAY GROUP BY day ORDER BY day",
    "SELECT countIf(event_name = 'purchase') / count() AS rate, quantile(0.9)(toFloat64(length(user_id))) FROM events",
    "SELECT sumIf(JSONExtractFloat(properties, 'price'), event_name = 'purchase') FROM events",
    "SELECT uniqMerge(s) FROM (SELECT uniqState(user_id) AS s FROM events)",
    "WITH daily AS (SELECT toDate(timestamp) AS d, count() AS n FROM events GROUP BY d) "
    "SELECT d, n, avg(n) OVER (ORDER BY d ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) FROM daily",
    "SELECT user_id, groupArray(event_name) FROM events GROUP BY user_id HAVING count() > 2 LIMIT 10",
    "SELECT arrayMap(x -> x * 2, [1, 2, 3]), arrayFilter(x -> x > 1, [1, 2]), if(1 > 0, 'a', 'b')",
    "SELECT multiIf(count() > 10, 'many', 'few'), coalesce(NULL, 1), toString(now()), formatReadableSize(1024)",
    "SELECT e.event_name FROM events AS e INNER JOIN (SELECT user_id FROM events LIMIT 5) AS u ON e.user_id = u.user_id",
    "SELECT event_name FROM events WHERE user_id IN (SELECT user_id FROM events WHERE event_name = 'signup')",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT a FROM events ARRAY JOIN [1, 2] AS a LIMIT 1",
    "SELECT domain(JSONExtractString(properties, '$current_url')) AS host, count() FROM events GROUP BY host",
    "SELECT CAST(1 AS String), 1::UInt8, extract('abc', 'b'), position('abc', 'b'), substring('abc', 1, 2)",
    "SELECT * FROM observatory.events LIMIT 1",
    "SELECT 'file(''/etc/passwd'')' AS harmless_text, 'system.query_log' AS more_text",
    "SELECT dateDiff('day', toDate('2026-01-01'), today()), toStartOfInterval(now(), INTERVAL 5 MINUTE)",
    "SELECT 1 FROM events WHERE EXISTS (SELECT 1 FROM events WHERE event_name = 'x') AND user_id != '' OR NOT 0",
    "SELECT * FROM events AS a ASOF LEFT JOIN events AS b ON a.user_id = b.user_id AND a.timestamp >= b.timestamp",
    "SELECT date_add(DAY, 1, timestamp), COLUMNS('^event') FROM events",
    "SELECT count(DISTINCT user_id), count(*), 1 BETWEEN 0 AND 2, countIf(event_name LIKE 'a%' OR user_id IS NULL) "
    "FROM events",
    "SELECT topK(10)(event_name), windowFunnel(3600)(toDateTime(timestamp), event_name = 'a', event_name = 'b') FROM events",
    "SELECT lagInFrame(event_name) OVER w FROM events WINDOW w AS (ORDER BY timestamp) LIMIT 10 OFFSET 5",
]


@pytest.mark.parametrize("sql", hostile())
def test_every_hostile_statement_is_refused(sql):
    with pytest.raises(Refused) as refused:
        guard(sql, DB)
    assert refused.value.code in CODES
    assert refused.value.message


def test_the_corpus_is_big_enough_and_covers_the_issue():
    statements = hostile()
    assert len(statements) >= 200
    text = "\n".join(statements)
    for needle in (
        "file(",
        "url(",
        "s3(",
        "remote(",
        "executable(",
        "input(",
        "jdbc(",
        "INTO OUTFILE",
        "APPEND",
        "TRUNCATE",
        "SETTINGS",
        "/* /* */ */",
        "; KILL QUERY",
        "system.query_log",
        "dictGet",
        "ｆｉｌｅ",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("sql", LEGITIMATE)
def test_the_queries_the_project_shows_pass(sql):
    sent = guard(sql, DB)
    assert "/*" not in sent and "--" not in sent
    assert guard(sent, DB) == sent  # what is sent passes again, unchanged


@pytest.mark.parametrize(
    ("sql", "code", "named"),
    [
        ("SELECT file('/proc/self/environ')", "forbidden_function", "file()"),
        ("SELECT `file`('/etc/passwd')", "forbidden_function", "file()"),
        ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", "forbidden_table", "url()"),
        ("SELECT * FROM system.query_log", "forbidden_table", "system.query_log"),
        ("SELECT 1 INTO OUTFILE '/tmp/x' APPEND", "forbidden_clause", "OUTFILE"),
        ("SELECT 1 SETTINGS readonly = 0", "forbidden_clause", "SETTINGS"),
        ("SELECT 1; KILL QUERY WHERE 1", "multiple_statements", ";"),
        ("KILL QUERY WHERE 1", "not_a_select", "KILL"),
        ("INSERT INTO events (event_name) VALUES ('x')", "not_a_select", "INSERT"),
        ("SELECT dictGet('d', 'v', 1)", "forbidden_function", "dictGet()"),
        ("SELECT (", "parse_error", "cannot read"),
    ],
)
def test_refusals_name_the_offender(sql, code, named):
    with pytest.raises(Refused) as refused:
        guard(sql, DB)
    assert refused.value.code == code and named in refused.value.message, refused.value


def test_what_is_sent_is_rewritten_from_the_tree():
    assert guard("SELECT /* hi */ count() -- there\nFROM events FINAL", DB) == (
        "SELECT count() FROM observatory.events FINAL"
    )
    # a WITH name stays a WITH name; a table is pinned to the project's database
    assert guard("WITH t AS (SELECT 1 AS x) SELECT x FROM t, events", DB) == (
        "WITH t AS (SELECT 1 AS x) SELECT x FROM t CROSS JOIN observatory.events"
    )
    # the name written is the name sent (no dialect rewrite of toStartOfDay into dateTrunc)
    assert "toStartOfDay(timestamp)" in guard("SELECT toStartOfDay(timestamp) FROM events", DB)
    # a nested comment hides what it holds from ClickHouse too: it is dropped, not sent
    assert guard("SELECT 1 /* /* */ , file('/etc/passwd') */", DB) == "SELECT 1"


def test_a_very_deep_statement_is_a_parse_error_not_a_crash():
    with pytest.raises(Refused) as refused:
        guard("SELECT " + "(" * 5000 + "1" + ")" * 5000, DB)
    assert refused.value.code == "parse_error"


def test_the_allowlist_keeps_out_what_reads_or_tells_too_much():
    for name in (
        "file",
        "url",
        "s3",
        "remote",
        "executable",
        "input",
        "jdbc",
        "odbc",
        "mysql",
        "postgresql",
        "hdfs",
        "dictGet",
        "dictGetString",
        "joinGet",
        "getSetting",
        "getServerSetting",
        "currentUser",
        "hostName",
        "version",
        "sleep",
        "sleepEachRow",
        "throwIf",
        "filesystemAvailable",
        "queryID",
        "getMacro",
        "hasColumnInTable",
        "generateSerialID",
        "fileIf",
        "dictGetState",
    ):
        assert not allowed(name), name
    for name in (
        "count",
        "countIf",
        "uniqExactIfState",
        "sumMerge",
        "quantilesTimingIf",
        "toStartOfDay",
        "DATE_TRUNC",
        "JSONExtractString",
        "arrayJoin",
        "row_number",
        "CAST",
    ):
        assert allowed(name), name
    assert len(AGGREGATES) > 200 and len(SCALARS) > 1000


def test_the_allowlist_matches_the_engine(tmp_path):
    """Every allowed name is a function of the pinned chDB, and no function left out shares a
    lowercase spelling with an allowed one (names compare case-insensitively). chDB runs in a child:
    a process opens one engine in its life."""
    import json
    import os

    from observatory.store.subprocess_query import query_rows

    rows = query_rows(
        f"chdb://{tmp_path / 'engine'}",
        "SELECT name, alias_to FROM system.functions",
        {**os.environ, "OBS_LOCAL_DIR": str(tmp_path / "none")},
    )
    names = {r["name"] for r in rows}
    assert len(names) > 1500, json.dumps(rows[:3])
    assert not (AGGREGATES | SCALARS) - names, sorted((AGGREGATES | SCALARS) - names)[:20]
    lower_allowed = {n.lower() for n in AGGREGATES | SCALARS}
    clashes = sorted(n for n in names if n not in AGGREGATES | SCALARS and n.lower() in lower_allowed)
    assert not clashes, clashes
