"""The churn model on users whose churn is known (demo/churn.py): the time-based holdout's ROC AUC
against the ground truth is above 0.75 and beats the recency-only baseline, the Brier score too;
scores land in churn_scores (exactly once per user despite redelivered events) and as bounded gauges."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from observatory.churn.segments import MAX_VALUES
from observatory.churn.service import ChurnService
from observatory.demo.churn import ChurnCohort
from observatory.settings import StoreSettings
from observatory.store.analytics import Analytics
from tests.conftest import unique
from tests.integration.shopdata import load, ms

START = datetime(2026, 1, 1, tzinfo=UTC)
CUTOFF = datetime(2026, 9, 1, tzinfo=UTC)
HOLDOUT = datetime(2026, 8, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def cohort(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("churn"))
    client = chdb.client()
    events, truth = ChurnCohort(seed=3).generate(2500, START, CUTOFF)
    for e in events:
        e["timestamp"] = ms(e["timestamp"])
    load(client, store, events, dup_ratio=0.1)
    registry = CollectorRegistry()
    service = ChurnService(Analytics(client, store.database), registry)
    run = service.run(datetime(2026, 9, 1, 6, tzinfo=UTC))
    yield service, run, truth, registry, events
    client.close()


def _auc(y, p) -> float:
    """Mann-Whitney: the probability that a random churner scores above a random stayer (ties 1/2)."""
    pos = [s for s, t in zip(p, y) if t]
    neg = [s for s, t in zip(p, y) if not t]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def test_model_beats_recency_on_known_churn(cohort):
    service, run, truth, _, _ = cohort
    # ground truth for the holdout users (active in July): churned (gone for good) before the end of August
    y = np.array([1 if truth[u["user_id"]] is not None and truth[u["user_id"]] < CUTOFF else 0 for u in run.holdout])
    p_model = np.array([u["probability"] for u in run.holdout])
    p_base = np.array([u["baseline"] for u in run.holdout])
    auc_model, auc_base = _auc(y, p_model), _auc(y, p_base)
    brier_model, brier_base = float(np.mean((p_model - y) ** 2)), float(np.mean((p_base - y) ** 2))
    print(
        f"holdout users {len(y)}, churners {int(y.sum())}: AUC model {auc_model:.3f} baseline {auc_base:.3f}; "
        f"Brier model {brier_model:.4f} baseline {brier_base:.4f}; reported {run.as_dict()['evaluation']}"
    )
    assert 100 < y.sum() < len(y) - 100
    assert auc_model > 0.75
    assert auc_model > auc_base + 0.02
    assert brier_model < brier_base
    # the service's own evaluation (against the labels in the data) says the same
    assert run.model.auc > run.baseline.auc and run.model.brier < run.baseline.brier


def test_scores_are_stored_once_per_active_user(cohort):
    service, run, truth, _, events = cohort
    a = service.analytics
    active = {e["user_id"] for e in events if "2026-08-01" <= e["timestamp"][:10] < "2026-09-01"}
    rows = a.client.query(
        f"SELECT user_id, probability FROM {a.database}.churn_scores FINAL WHERE cutoff = '2026-09-01'"
    ).result_rows
    assert {r[0] for r in rows} == active and len(rows) == len(active)
    assert all(0 < r[1] < 1 for r in rows)
    assert not service.due(datetime(2026, 9, 20, tzinfo=UTC))
    assert service.due(datetime(2026, 10, 2, tzinfo=UTC))


def test_segments_query_and_gauges(cohort):
    service, run, _, registry, _ = cohort
    rows = service.analytics.run("churn_segments", end=datetime(2026, 9, 15, tzinfo=UTC)).dicts()
    by = {(r["segment"], r["value"]): r for r in rows}
    users = run.users
    assert by[("all", "")]["users"] == len(users)
    assert by[("all", "")]["mean_probability"] == pytest.approx(np.mean([u["probability"] for u in users]))
    for country in {u["country"] for u in users}:
        mine = [u["probability"] for u in users if u["country"] == country]
        assert by[("country", country)]["users"] == len(mine)
        assert by[("country", country)]["at_risk"] == sum(p >= 0.5 for p in mine)
    assert {r["segment"] for r in rows} == {"all", "country", "device_type", "source", "plan"}
    assert {v for s, v in by if s == "plan"} == {"free", "plus", "pro"}
    samples = [s for metric in registry.collect() if metric.name == "churn_users" for s in metric.samples]
    per_segment = {}
    for s in samples:
        per_segment.setdefault(s.labels["segment"], []).append(s)
    assert set(per_segment) == {"all", "country", "device_type", "source", "plan"}
    assert all(len(v) <= MAX_VALUES + 1 for v in per_segment.values())
    assert sum(s.value for s in per_segment["country"]) == len(users)
    assert registry.get_sample_value("churn_model_auc", {"model": "logistic"}) == pytest.approx(run.model.auc)


async def test_scheduler_scores_monthly_and_api_serves_it(cohort, chdb):
    """The forecaster's scheduler scores when the month has no scores yet (and only then); /v1/churn
    serves the segments, /v1/churn/users the users most at risk."""
    import httpx

    from observatory.forecaster.app import create_app
    from observatory.metrics import new_registry
    from observatory.settings import ForecasterSettings
    from tests.integration.conftest import READ, api_settings

    service, run, _, _, _ = cohort
    db = service.analytics.database
    service.analytics.client.command(f"TRUNCATE TABLE {db}.churn_scores")
    now = datetime(2026, 9, 2, 8, tzinfo=UTC)
    store = StoreSettings(dsn=chdb.dsn, database=db)
    app = create_app(
        ForecasterSettings(metrics=""),
        store,
        registry=new_registry("forecaster", "test"),
        clock=lambda: now,
        schedule=False,
        api=api_settings(),
    )
    chdb.track(app.state.forecaster.client)
    scheduler = app.state.forecaster.scheduler
    async with app.lifespan():
        assert "churn" in await scheduler.tick(now)
        scheduler.next_churn = None
        assert "churn" not in await scheduler.tick(now)  # scored already this month
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app.private), base_url="http://f", headers=READ
        ) as http:
            body = (await http.get("/v1/churn")).json()
            top = (await http.get("/v1/churn/users", params={"limit": 5})).json()["users"]
            bad = await http.get("/v1/churn/users", params={"limit": 0})
            anonymous = await http.get("/v1/churn", headers={"Authorization": ""})
            metrics = (await http.get("/metrics")).text
    assert body["cutoff"] == "2026-09-01"
    assert body["segments"]["all"][0]["users"] == len(run.users)
    assert body["model"]["users"] == len(run.users)  # counted, though the service no longer keeps the rows
    assert body["model"]["evaluation"]["model"]["auc"] == pytest.approx(run.model.auc, abs=1e-4)
    assert len(top) == 5 and [u["probability"] for u in top] == sorted((u["probability"] for u in top), reverse=True)
    assert top[0]["probability"] == pytest.approx(max(u["probability"] for u in run.users))
    assert bad.status_code == 422
    assert anonymous.status_code == 401
    assert 'churn_users_at_risk{segment="all",value="all"}' in metrics
    # no forecast metric is configured: only the churn fit can have run in the fit worker
    peak = re.search(r"^forecaster_fit_worker_peak_rss_bytes (\S+)$", metrics, re.M)
    assert peak is not None and float(peak.group(1)) > 0
