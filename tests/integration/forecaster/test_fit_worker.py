"""A fit worker lost mid-job is an error the API, the metrics and the log report (never a hang), and
the forecaster goes on serving with a fresh worker."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal

from tests.integration.conftest import wait_until


def counter(metrics: str, reason: str) -> float:
    found = re.search(rf'^forecaster_fit_worker_failures_total{{reason="{reason}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_killed_fit_worker_is_a_503_a_metric_and_a_log_line_then_the_next_fit_works(
    shop, make_forecaster, caplog
):
    store, _ = shop
    caplog.set_level(logging.ERROR, logger="observatory.forecaster")
    async with make_forecaster(store) as (app, http):
        pool = app.state.forecaster.service.pool
        request = asyncio.create_task(http.get("/v1/forecast/revenue", timeout=300))
        await wait_until("the fit worker started", lambda: pool.pids(), 60)
        os.kill(pool.pids()[0], signal.SIGKILL)
        r = await request
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "fit_failed" and "died" in r.json()["message"]
        assert int(r.headers["retry-after"]) >= 1
        metrics = (await http.get("/metrics")).text
        assert counter(metrics, "died") == 1
        assert any("fit worker failed" in rec.getMessage() for rec in caplog.records)

        again = await http.get("/v1/forecast/revenue", timeout=300)
        assert again.status_code == 200, again.text
        assert again.json()["points"]


async def test_a_fit_over_the_time_limit_is_a_503_not_a_hang(shop, make_forecaster):
    store, _ = shop
    async with make_forecaster(store, fit_timeout_s=0.01) as (app, http):
        r = await http.get("/v1/backtest/revenue", params={"horizon": "7", "folds": "1"}, timeout=120)
        assert (r.status_code, r.json()["error"]) == (503, "fit_failed"), r.text
        assert "timeout" in r.json()["message"]
        assert counter((await http.get("/metrics")).text, "timeout") == 1
        assert app.state.forecaster.service.pool.pids() == []  # killed, not left running
