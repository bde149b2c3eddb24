"""`observatory query` against a local-stack-shaped folder (not the user's `make local`): a real
all-in-one process on free ports owns its own chDB folder, `.local/observatory.env` and
`.local/read-key` are written the way `make local` writes them, and the CLI runs as a user would.

While the all-in-one runs, the CLI cannot open the folder (chDB: one process per folder) and asks
the private API (POST /v1/query); once it is stopped, the CLI opens the folder itself. The same
queries must print the same rows both ways, in every format, and writes must be refused on the
running path (by the CLI, and by the server for a client that skips the CLI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.services import ServiceProcess
from observatory.settings import hash_key
from tests.conftest import topology
from tests.integration.conftest import broker_env, service_env_base

INGEST_KEY = "obs_query_test_ingest_2b6d"
READ_KEY = "obs_r_query_test_read_7e1a"
EVENTS = 12
QUERIES = {
    # no `{db}.` prefix: the session's database is OBS_CLICKHOUSE_DATABASE
    "default_db": "SELECT count() FROM events FINAL",
    "placeholder": "SELECT event_name, count() AS n FROM {db}.events FINAL GROUP BY event_name ORDER BY event_name",
    "rows": "SELECT event_id, event_name, timestamp, user_id, properties, source FROM events FINAL ORDER BY event_id",
    # every kind of value the encoding must carry the same way over both paths
    "types": (
        "SELECT toDecimal64(59.9, 2) AS price, [1, 2] AS arr, (1, 'a') AS tup, map('k', 1, 'l', 2) AS m, "
        "nan AS not_a_number, -inf AS minus_inf, NULL AS nothing, toUUID('0193a0a4-5c1e-7cc1-9f3a-4b1f5e2d8a10') "
        "AS id, toDate('2026-01-02') AS day, toDateTime64('2026-01-02 03:04:05.678', 3, 'UTC') AS ts, "
        "toInt128('-170141183460469231731687303715884105728') AS wide, 0.1 + 0.2 AS sum, 'zoë \"q\"' AS text, "
        "toIPv4('10.1.2.3') AS ip, true AS yes"
    ),
}
FORMATS = ("table", "json", "csv")
WRITE = "INSERT INTO events (event_id, event_name, user_id) VALUES (generateUUIDv4(), 'sneaky', 'u')"


def cli(local: Path, *args: str) -> subprocess.CompletedProcess:
    """`observatory ...` as a user runs it next to `.local/` (no OBS_* variable of this process)."""
    env = {**service_env_base(), "OBS_LOCAL_DIR": str(local), "COLUMNS": "200"}
    env.pop("OBS_READ_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "observatory.cli", *args],
        cwd=local.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def run_all(local: Path) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    return {(name, fmt): cli(local, "query", "--format", fmt, sql) for name, sql in QUERIES.items() for fmt in FORMATS}


@pytest.fixture(scope="module")
def shaped_stack(tmp_path_factory, rabbit):
    """Run every query while the all-in-one holds the folder, then after it stopped."""
    base = tmp_path_factory.mktemp("query-stack")
    local = base / ".local"
    local.mkdir()
    q = "query_" + uuid.uuid4().hex[:8]
    port, private_port = free_port(), free_port()
    settings = {  # what `make local` writes to .local/observatory.env
        "OBS_CLICKHOUSE_DSN": f"chdb://{(local / 'chdb').resolve()}",
        "OBS_CLICKHOUSE_DATABASE": "observatory",
        "OBS_INGEST_HOST": "127.0.0.1",
        "OBS_INGEST_PORT": str(port),
        "OBS_INGEST_PRIVATE_HOST": "127.0.0.1",
        "OBS_INGEST_PRIVATE_PORT": str(private_port),
        "OBS_INGEST_API_KEYS": f"local-dev:sha256:{hash_key(INGEST_KEY)}",
        "OBS_API_KEYS": f"local-dev:sha256:{hash_key(READ_KEY)}:admin",
    }
    (local / "observatory.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(settings.items())))
    (local / "read-key").write_text(READ_KEY + "\n")
    env = {
        **settings,
        "OBS_ENV": "test",
        "OBS_LOG_LEVEL": "WARNING",
        "OBS_ACCESS_LOG": "false",
        **broker_env(topology(rabbit.url, q)),
        "OBS_CONSUMER_FLUSH_MS": "100",
    }
    app = ServiceProcess("all-in-one", port, env, base / "logs" / "all-in-one.log", private_port=private_port)
    app.start(120)
    out: dict = {"app": app}
    try:
        events = [
            {
                "event_name": ("query_view", "query_buy")[i % 2],
                "user_id": f"u-{i}",
                "event_id": str(uuid.UUID(int=i + 1)),
                "timestamp": f"2026-11-{10 + i:02d}T08:00:00.125Z",
                "properties": {"price": i + 0.5, "note": "zoë ✓", "tags": ["a", "b"]},
            }
            for i in range(EVENTS)
        ]
        r = httpx.post(
            f"{app.url}/v1/events", json=events, headers={"Authorization": f"Bearer {INGEST_KEY}"}, timeout=30
        )
        assert r.status_code == 202 and r.json()["accepted"] == EVENTS, r.text
        api = f"{app.private_url}/v1/query"
        auth = {"Authorization": f"Bearer {READ_KEY}"}

        def stored() -> int:
            r = httpx.post(api, json={"sql": "SELECT count() FROM events FINAL"}, headers=auth, timeout=30)
            return r.json()["rows"][0][0] if r.status_code == 200 else -1

        wait_for(f"the {EVENTS} events in the all-in-one's store", lambda: stored() == EVENTS, 60)

        out["running"] = run_all(local)
        out["cli_write"] = cli(local, "query", WRITE)
        # a client that skips the CLI's check: the server refuses by itself
        out["api_writes"] = {
            sql: httpx.post(api, json={"sql": sql}, headers=auth, timeout=30)
            for sql in (
                WRITE,
                "  /* hidden */ INSERT INTO events (event_name) VALUES ('x')",
                "DROP TABLE events",
                "SELECT 1 SETTINGS readonly = 0",
                "SELECT * FROM file('/etc/hostname', 'LineAsString')",
                "KILL QUERY WHERE 1",
            )
        }
        out["api_no_key"] = httpx.post(api, json={"sql": "SELECT 1"}, timeout=30)
        out["count_after_writes"] = stored()
    finally:
        app.stop()
    out["stopped"] = run_all(local)
    out["stopped_count"] = cli(
        local, "query", "--format", "csv", "SELECT count() FROM events WHERE event_name = 'sneaky'"
    )
    return out


@pytest.mark.parametrize("name", list(QUERIES))
def test_query_prints_identical_rows_running_and_stopped(shaped_stack, name):
    for fmt in FORMATS:
        running, stopped = shaped_stack["running"][name, fmt], shaped_stack["stopped"][name, fmt]
        assert running.returncode == 0, running.stderr
        assert stopped.returncode == 0, stopped.stderr
        assert "held by the running stack" in running.stderr and "/v1/query" in running.stderr, running.stderr
        assert "opened directly" in stopped.stderr and "embedded store" in stopped.stderr, stopped.stderr
        assert running.stdout == stopped.stdout, (
            f"{name} --format {fmt} differs:\n{running.stdout}\n---\n{stopped.stdout}"
        )
        assert running.stdout.strip(), f"{name} --format {fmt} printed nothing"


def test_default_database_and_placeholder_agree(shaped_stack):
    import json

    count = json.loads(shaped_stack["stopped"]["default_db", "json"].stdout)
    assert count == {"count()": EVENTS}
    per_name = [json.loads(line) for line in shaped_stack["stopped"]["placeholder", "json"].stdout.splitlines()]
    assert per_name == [{"event_name": "query_buy", "n": EVENTS // 2}, {"event_name": "query_view", "n": EVENTS // 2}]


def test_values_are_encoded_the_same_way(shaped_stack):
    import json

    row = json.loads(shaped_stack["running"]["types", "json"].stdout)
    assert row["price"] == "59.90" and row["arr"] == [1, 2] and row["tup"] == [1, "a"] and row["m"] == {"k": 1, "l": 2}
    assert row["not_a_number"] == "nan" and row["minus_inf"] == "-inf" and row["nothing"] is None
    assert row["wide"] == -(2**127) and row["sum"] == 0.1 + 0.2 and row["text"] == 'zoë "q"' and row["yes"] is True
    assert (
        row["id"] == "0193a0a4-5c1e-7cc1-9f3a-4b1f5e2d8a10" and row["day"] == "2026-01-02" and row["ip"] == "10.1.2.3"
    )
    assert row["ts"].startswith("2026-01-02 03:04:05.678")
    lines = shaped_stack["stopped"]["rows", "json"].stdout.splitlines()
    first = json.loads(lines[0])
    assert len(lines) == EVENTS and first["event_id"] == str(uuid.UUID(int=1)) and first["source"] == "local-dev"
    assert json.loads(first["properties"]) == {"price": 0.5, "note": "zoë ✓", "tags": ["a", "b"]}


def test_write_statement_refused_on_the_running_path(shaped_stack):
    r = shaped_stack["cli_write"]
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "refused (not_a_select)" in r.stderr and "read-only" in r.stderr and "INSERT" in r.stderr, r.stderr
    assert "make local-down" in r.stderr
    # the server's own guard (store/sql_guard.py), for a client that skips the CLI
    expected = {
        WRITE: "not_a_select",
        "  /* hidden */ INSERT INTO events (event_name) VALUES ('x')": "not_a_select",
        "DROP TABLE events": "not_a_select",
        "SELECT 1 SETTINGS readonly = 0": "forbidden_clause",
        "SELECT * FROM file('/etc/hostname', 'LineAsString')": "forbidden_table",
        "KILL QUERY WHERE 1": "not_a_select",
    }
    for sql, resp in shaped_stack["api_writes"].items():
        assert resp.status_code == 400, (sql, resp.status_code, resp.text)
        assert resp.json()["error"] == expected[sql], (sql, resp.text)
    assert shaped_stack["api_no_key"].status_code == 401
    assert shaped_stack["count_after_writes"] == EVENTS
    # and nothing was written: the folder, opened directly once the stack stopped, has no such row
    assert shaped_stack["stopped_count"].stdout.splitlines() == ["count()", "0"], shaped_stack["stopped_count"].stderr


def test_query_on_a_fresh_store_without_the_database(tmp_path):
    """Before the first migration the database does not exist: plain SQL still runs, and a table of
    the database gets ClickHouse's own message."""
    env = {
        **service_env_base(),
        "OBS_LOCAL_DIR": str(tmp_path / "none"),
        "OBS_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'fresh'}",
        "OBS_CLICKHOUSE_DATABASE": "observatory",
    }
    ok = subprocess.run(
        [sys.executable, "-m", "observatory.cli", "query", "-f", "csv", "SELECT 41 + 1 AS x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0 and ok.stdout.splitlines() == ["x", "42"], ok.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "observatory.cli", "query", "SELECT count() FROM events"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "error:" in missing.stderr and "events" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr
    assert os.path.isdir(tmp_path / "fresh")
