"""POST /v1/query of a real all-in-one over chDB (issue 22): the hostile corpus, the caps, and ingest
while a long query runs.

- every statement of tests/unit/data/hostile_sql.txt answers 400; a canary file's text never comes
  back; nothing appears or changes in the folder the corpus aims its OUTFILEs and files at; the
  store keeps its rows and tables
- a query over a cap (time, memory, result rows) answers 400 limit_exceeded; an answer over the
  response cap answers 413 result_too_large
- ingest answers 202 while a query runs into its time cap (the query runs off the event loop)

The caps are lowered for the test (OBS_QUERY_*): what is checked is the mapping, not the defaults.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx
import pytest

from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.services import ServiceProcess
from observatory.settings import hash_key
from tests.conftest import topology
from tests.integration.conftest import broker_env, service_env_base
from tests.unit.store.test_sql_guard import LEGITIMATE, hostile

INGEST_KEY = "obs_guard_test_ingest_5c1d"
READ_KEY = "obs_r_guard_test_read_93fa"
CANARY = "CANARY-7f3e9b2a-never-in-a-response"
EVENTS = 6
# a cross join of two 100,000-row sides: 10^10 rows to count, far over a few seconds
LONG_QUERY = (
    # 1e11 hashed pairs: far over the 6 s cap on any machine (a plain count() of the cross join is
    # answered without visiting the pairs, so it finished within the cap on an idle machine)
    "SELECT sum(cityHash64(a, b)) FROM (SELECT arrayJoin(range(1000000)) AS a) AS x "
    "CROSS JOIN (SELECT arrayJoin(range(100000)) AS b) AS y"
)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, rabbit):
    base = tmp_path_factory.mktemp("query-guard")
    canary_dir = base / "obs-canary"
    canary_dir.mkdir()
    (canary_dir / "secret.txt").write_text(CANARY + "\n")
    port, private_port = free_port(), free_port()
    env = {
        **service_env_base(),
        "OBS_CLICKHOUSE_DSN": f"chdb://{base / 'chdb'}",
        "OBS_CLICKHOUSE_DATABASE": "observatory",
        "OBS_INGEST_HOST": "127.0.0.1",
        "OBS_INGEST_PORT": str(port),
        "OBS_INGEST_PRIVATE_HOST": "127.0.0.1",
        "OBS_INGEST_PRIVATE_PORT": str(private_port),
        "OBS_INGEST_API_KEYS": f"guard:sha256:{hash_key(INGEST_KEY)}",
        "OBS_API_KEYS": f"guard:sha256:{hash_key(READ_KEY)}:read",
        "OBS_LOG_LEVEL": "WARNING",
        "OBS_ACCESS_LOG": "false",
        "OBS_CONSUMER_FLUSH_MS": "100",
        "OBS_QUERY_MAX_SECONDS": "6",
        "OBS_QUERY_MAX_MEMORY_BYTES": str(64 << 20),
        "OBS_QUERY_MAX_RESULT_ROWS": "50000",
        "OBS_QUERY_MAX_RESPONSE_BYTES": str(1 << 20),
        **broker_env(topology(rabbit.url, "guard_" + uuid.uuid4().hex[:8])),
    }
    app = ServiceProcess("all-in-one", port, env, base / "logs" / "all-in-one.log", private_port=private_port)
    app.start(120)
    try:
        events = [
            {"event_name": "guard_view", "user_id": f"u-{i}", "event_id": str(uuid.UUID(int=i + 1))}
            for i in range(EVENTS)
        ]
        r = httpx.post(
            f"{app.url}/v1/events", json=events, headers={"Authorization": f"Bearer {INGEST_KEY}"}, timeout=30
        )
        assert r.status_code == 202, r.text
        api = Api(f"{app.private_url}/v1/query")
        wait_for(f"the {EVENTS} events in the store", lambda: api.count() == EVENTS, 60)
        yield {"app": app, "api": api, "canary_dir": canary_dir, "base": base}
    finally:
        app.stop()


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(headers={"Authorization": f"Bearer {READ_KEY}"}, timeout=120)

    def post(self, sql: str) -> httpx.Response:
        return self.http.post(self.url, json={"sql": sql})

    def count(self) -> int:
        r = self.post("SELECT count() FROM events FINAL")
        return r.json()["rows"][0][0] if r.status_code == 200 else -1


def test_every_hostile_statement_answers_400_and_changes_nothing(stack):
    api, canary_dir, base = stack["api"], stack["canary_dir"], stack["base"]
    tables = api.post("SELECT name FROM system.tables")  # refused itself; the store's own view below
    assert tables.status_code == 400
    described = api.post("DESCRIBE TABLE events")
    assert described.status_code == 200, described.text
    before, outside = snapshot(canary_dir), {p.name for p in base.iterdir()}
    answers = {}
    for sql in hostile():
        sql = sql.replace("/tmp/obs-canary", str(canary_dir))
        answers[sql] = api.post(sql)
    wrong = {sql: (r.status_code, r.text[:200]) for sql, r in answers.items() if r.status_code != 400}
    assert not wrong, wrong
    leaked = [sql for sql, r in answers.items() if CANARY in r.text]
    assert not leaked, leaked
    assert all(r.json()["error"] and r.json()["message"] for r in answers.values())
    assert snapshot(canary_dir) == before
    assert {p.name for p in base.iterdir()} == outside
    assert api.count() == EVENTS
    assert api.post("DESCRIBE TABLE events").json() == described.json()


def test_the_file_read_of_the_issue_is_refused(stack):
    r = stack["api"].post(f"SELECT file('{stack['canary_dir'] / 'secret.txt'}')")
    assert r.status_code == 400 and r.json()["error"] == "forbidden_function", r.text
    assert CANARY not in r.text and "file()" in r.json()["message"]


@pytest.mark.parametrize("sql", LEGITIMATE)
def test_the_project_s_own_queries_still_run(stack, sql):
    r = stack["api"].post(sql)
    # a query the guard passes either runs or gets ClickHouse's own answer about the data
    assert r.status_code == 200, (sql, r.text[:300])


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("SELECT groupArray(x) FROM (SELECT arrayJoin(range(20000000)) AS x)", "memory"),
        ("SELECT arrayJoin(range(60000)) AS x", "rows"),  # under a block: the API's own count
        ("SELECT arrayJoin(range(300000)) AS x", "rows"),  # over a block: ClickHouse's max_result_rows
    ],
)
def test_a_query_over_a_cap_is_a_clear_400(stack, sql, what):
    r = stack["api"].post(sql)
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert body["error"] == "limit_exceeded" and what in body["message"], body


def test_an_answer_over_the_response_cap_is_a_413(stack):
    r = stack["api"].post("SELECT repeat('x', 1000) AS s FROM (SELECT arrayJoin(range(5000)) AS n)")
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"] == "result_too_large" and "OBS_QUERY_MAX_RESPONSE_BYTES" in r.json()["message"]


def test_ingest_answers_202_while_a_query_runs_into_its_time_cap(stack):
    app, api = stack["app"], stack["api"]
    done = threading.Event()
    result: dict = {}

    def long_query() -> None:
        result["response"] = api.post(LONG_QUERY)
        done.set()

    worker = threading.Thread(target=long_query)
    worker.start()
    accepted_while_running = 0
    with httpx.Client(headers={"Authorization": f"Bearer {INGEST_KEY}"}, timeout=30) as http:
        while not done.is_set():
            r = http.post(f"{app.url}/v1/events", json=[{"event_name": "guard_during", "user_id": "u"}])
            assert r.status_code == 202, r.text
            if not done.is_set():
                accepted_while_running += 1
    worker.join()
    response = result["response"]
    assert response.status_code == 400 and response.json()["error"] == "limit_exceeded", response.text
    assert "max_execution_time" in response.json()["message"]
    assert accepted_while_running >= 1


def test_a_statement_over_the_length_cap_is_refused_before_parsing(stack):
    r = stack["api"].post("SELECT " + "1 + " * 5000 + "1")  # 20,008 characters: parsing would take ~0.6 s
    assert r.status_code == 422, r.text[:300]
