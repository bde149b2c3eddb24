"""Every ClickHouse panel of the Grafana dashboards and every Metabase question runs its SQL on the
embedded ClickHouse (chDB: same engine and SQL as the server) over 30 days of demo webshop data,
through the real migrations and the consumer's sink, and must return rows with values. The
forecast-band panel reads the forecasts table, filled by the real forecaster (Prophet) fitted on
that data."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from observatory.consumer.decode import to_row
from observatory.demo.generator import Webshop
from observatory.store.migrate import migrate
from observatory.store.sink import ClickHouseSink
from tests.integration.dashboards.panels import expand_clickhouse, metabase_questions, queries, rename_database

DAYS = 30


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, chdb):
    """30 days of demo history in a database of its own on the session's chDB folder."""
    from observatory.settings import StoreSettings
    from tests.conftest import unique

    settings = StoreSettings(dsn=chdb.dsn, database=unique("dash"))
    client = chdb.client()
    migrate(client, settings)
    end = datetime.now(UTC)
    rows = [to_row(ev) for ev in Webshop(seed=11).history(DAYS, base_sessions=80, end=end)]
    sink = ClickHouseSink(client, settings.database)
    for i in range(0, len(rows), 20_000):
        sink.insert(rows[i : i + 20_000])
    # a redelivered batch: FINAL must still count each event once
    sink.insert(rows[:500])
    _forecast_revenue(client, settings.database)
    n_churn = _churn_scores(client, settings.database, end)
    yield client, settings.database, end, len(rows) + n_churn


def _forecast_revenue(client, database: str) -> None:
    """The forecaster's daily revenue model on the demo data, written to <db>.forecasts."""
    from observatory.forecaster.service import ForecastService
    from observatory.metrics import ForecasterMetrics, new_registry
    from observatory.settings import ForecasterSettings
    from observatory.store.analytics import Analytics

    settings = ForecasterSettings(backtest_folds=0, uncertainty_samples=50, max_periods_day=14)
    service = ForecastService(settings, Analytics(client, database), ForecasterMetrics.create(new_registry("t", "0")))
    service.store_forecast(service.fit("revenue", "day"))


def _churn_scores(client, database: str, end: datetime) -> int:
    """Five months of a cohort with known churn, scored by the real churn model (<db>.churn_scores)."""
    from observatory.churn.service import ChurnService, month_start
    from observatory.demo.churn import ChurnCohort
    from observatory.store.analytics import Analytics

    events, _ = ChurnCohort(seed=5).generate(400, month_start(end, -4), end)
    rows = [to_row(ev) for ev in events]
    ClickHouseSink(client, database).insert(rows)
    ChurnService(Analytics(client, database)).run(end)
    return len(rows)


def _check_result(key: str, result) -> None:
    assert result.result_rows, f"{key}: no rows"
    values = [v for row in result.result_rows for v in row]
    numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert numeric, f"{key}: no numeric column in {result.column_names}"
    assert any(v and not (isinstance(v, float) and math.isnan(v)) for v in numeric), (
        f"{key}: every value is zero/NaN: {result.result_rows[:5]}"
    )


CH_QUERIES = queries("clickhouse")


def test_dashboards_have_clickhouse_panels():
    assert len(CH_QUERIES) >= 10, [q.key for q in CH_QUERIES]


@pytest.mark.parametrize("query", CH_QUERIES, ids=[q.key for q in CH_QUERIES])
def test_grafana_clickhouse_panel_returns_rows(demo_store, query):
    client, db, end, _ = demo_store
    sql = expand_clickhouse(query.text, end - timedelta(days=DAYS), end, db)
    _check_result(query.key, client.query(sql))


QUESTIONS = metabase_questions()


@pytest.mark.parametrize("dashboard,question", QUESTIONS, ids=[f"{d} / {q['name']}" for d, q in QUESTIONS])
def test_metabase_question_returns_rows(demo_store, dashboard, question):
    client, db, _, _ = demo_store
    resolved = {q["name"]: q for _, q in metabase_questions(db)}[question["name"]]
    assert resolved["sql"] == rename_database(question["sql"], db)
    _check_result(f"{dashboard} / {question['name']}", client.query(resolved["sql"]))


def test_final_counts_each_event_once(demo_store):
    """The panels read `events FINAL`: the redelivered batch must not inflate the numbers."""
    client, db, end, n = demo_store
    assert client.query(f"SELECT count() FROM {db}.events FINAL").result_rows[0][0] == n
    assert client.query(f"SELECT count() FROM {db}.events").result_rows[0][0] == n + 500


def test_funnel_is_monotonic(demo_store):
    """A sanity check of the funnel SQL on known data: each step has at most the sessions of the previous."""
    client, db, end, _ = demo_store
    q = next(q for q in CH_QUERIES if q.panel.startswith("Purchase funnel"))
    rows = client.query(expand_clickhouse(q.text, end - timedelta(days=DAYS), end, db)).result_rows
    counts = [r[1] for r in rows]
    assert len(counts) == 5 and counts == sorted(counts, reverse=True) and counts[-1] > 0, rows
    assert [r[0][:2] for r in rows] == ["1.", "2.", "3.", "4.", "5."], rows


def test_forecast_band_brackets_the_forecast(demo_store):
    client, db, end, _ = demo_store
    q = next(q for q in CH_QUERIES if q.panel == "Revenue: actual and forecast band" and "forecasts" in q.text)
    rows = client.query(expand_clickhouse(q.text, end - timedelta(days=DAYS), end + timedelta(days=14), db)).result_rows
    assert len(rows) >= 28, rows[:3]
    assert all(lower <= yhat <= upper for _, yhat, lower, upper in rows)


def test_clickhouse_server_metric_names_exist(demo_store):
    """The ClickHouse server's /metrics cannot be scraped here, but its families are named after
    system.events (ClickHouseProfileEvents_*) and system.metrics (ClickHouseMetrics_*), which the
    embedded engine has too: every such name a Grafana panel uses must exist there. (chDB has no
    system.asynchronous_metrics: ClickHouseAsyncMetrics_* panels are checked by tests/e2e on the Docker stack.)"""
    from tests.integration.dashboards.panels import queries as all_queries

    client, _, _, _ = demo_store
    events = {r[0] for r in client.query("SELECT name FROM system.events").result_rows}
    metrics = {r[0] for r in client.query("SELECT name FROM system.metrics").result_rows}
    checked = 0
    for q in all_queries("prometheus"):
        for kind, name in re.findall(r"\bClickHouse(ProfileEvents|Metrics)_(\w+)", q.text):
            assert name in (events if kind == "ProfileEvents" else metrics), (
                f"{q.key}: no ClickHouse {kind} named {name}"
            )
            checked += 1
    assert checked >= 3
