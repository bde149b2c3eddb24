"""The fit worker processes (forecaster/worker.py, workpool.py): jobs run in a child, failures of the
child are reported (never a hang), and no child outlives the forecaster."""

from __future__ import annotations

import json
import operator
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from observatory.forecaster import evaluation
from observatory.forecaster.model import InsufficientHistory
from observatory.forecaster.worker import WorkerFailed
from observatory.forecaster.workpool import FitPool


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, limit_s: float = 30.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def pool():
    failures: list[WorkerFailed] = []
    p = FitPool(1, 1, timeout_s=20, idle_s=600, on_failure=failures.append)
    p.failures = failures  # type: ignore[attr-defined]
    yield p
    p.close()


def test_a_job_runs_in_another_process_and_its_exception_comes_back_whole(pool):
    assert pool.call(os.getpid) != os.getpid()
    assert pool.call(operator.add, 2, 3) == 5
    short = pd.DataFrame({"ds": pd.date_range("2026-01-01", periods=5, freq="D"), "y": [1.0] * 5})
    with pytest.raises(InsufficientHistory) as err:
        pool.call(evaluation.backtest, short, "day", 3, 2, 14)
    assert (err.value.needed, err.value.have, err.value.granularity) == (20, 5, "day")
    assert pool.peak_rss_bytes() > 0


def test_a_worker_that_dies_mid_job_is_reported_and_replaced(pool):
    first = pool.call(os.getpid)
    with pytest.raises(WorkerFailed) as err:
        pool.call(os._exit, 3)
    assert err.value.reason == "died" and "exit code 3" in str(err.value)
    assert [f.reason for f in pool.failures] == ["died"]
    assert not alive(first)
    second = pool.call(os.getpid)
    assert second != first


def test_a_job_over_the_time_limit_is_killed_with_its_worker():
    failures: list[WorkerFailed] = []
    pool = FitPool(1, 0, timeout_s=1, on_failure=failures.append)
    try:
        pid = pool.call(os.getpid)
        with pytest.raises(WorkerFailed) as err:
            pool.call(time.sleep, 120)
        assert err.value.reason == "timeout"
        assert [f.reason for f in failures] == ["timeout"]
        assert not alive(pid)
        assert pool.call(operator.mul, 4, 5) == 20
    finally:
        pool.close()


def test_an_idle_worker_exits_and_the_next_job_starts_a_fresh_one():
    pool = FitPool(1, 0, timeout_s=20, idle_s=0.2)
    try:
        pid = pool.call(os.getpid)
        assert wait_gone(pid)
        assert pool.pids() == []
        assert pool.call(os.getpid) not in (pid, os.getpid())
    finally:
        pool.close()


def test_close_ends_the_workers(pool):
    pid = pool.call(os.getpid)
    pool.close()
    assert not alive(pid)
    with pytest.raises(WorkerFailed):
        pool.call(operator.add, 1, 1)


PARENT = textwrap.dedent(
    """
    import json, os, sys, threading, time
    from observatory.forecaster.workpool import FitPool
    pool = FitPool(1, 0, timeout_s=600)
    pid = pool.call(os.getpid)
    if sys.argv[1] == "busy":  # the worker is in the middle of a job when the parent dies
        threading.Thread(target=pool.call, args=(time.sleep, 300), daemon=True).start()
        time.sleep(0.5)
    print(json.dumps({"worker": pid}), flush=True)
    time.sleep(300)
    """
)


@pytest.mark.parametrize("state", ["idle", "busy"])
def test_no_worker_outlives_a_killed_forecaster(state):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, state], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()
        worker = json.loads(line)["worker"]
        assert alive(worker)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert wait_gone(worker), f"worker {worker} still running after its parent was killed"


def test_the_serving_process_never_imports_the_model_libraries():
    """A refresh's computation, the churn fit and a report chart through the pool: Prophet,
    statsmodels, scikit-learn and matplotlib load in the worker only (a fresh interpreter, so
    nothing else has imported them)."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np, pandas as pd
        from observatory.forecaster import jobs
        from observatory.forecaster.model import ModelConfig
        from observatory.forecaster.workpool import FitPool
        from observatory.churn import model as churn
        ds = pd.date_range("2026-01-01", periods=60, freq="D")
        series = pd.DataFrame({"ds": ds, "y": 100 + 10 * np.sin(np.arange(60))})
        pool = FitPool(1, 0)
        selection, frame = pool.call(jobs.refresh, series, "day", 14, 7, ModelConfig())
        x = np.random.default_rng(1).random((200, 7)); y = (x[:, 0] > 0.5).astype("int8")
        ev = pool.call(churn.evaluate_and_score, x, x[:, :1], y, x, x[:, :1], y, x)
        from observatory.reports.chart import forecast_png
        png = pool.call(forecast_png, "revenue", series, frame[frame["is_forecast"]], "chart")
        pool.close()
        assert png[1:4] == b"PNG"
        heavy = sorted(m for m in ("prophet", "statsmodels", "sklearn", "cmdstanpy", "matplotlib") if m in sys.modules)
        print(selection.chosen, int(frame["is_forecast"].sum()), len(ev.p_current), heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    chosen, forecast, scored, heavy = out.stdout.split(maxsplit=3)
    assert int(forecast) == 7 and int(scored) == 200
    assert heavy.strip() == "[]"
