"""`observatory forecast backtest --csv FILE`: the folds are exactly the documented ones (the last K
non-overlapping windows of `horizon` points ending at the series' end, each trained on the configured
history window before its cutoff), and bad files are refused with the line at fault."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from observatory.cli import app


def write_daily(path, days: int, first: datetime = datetime(2025, 1, 6), seed: int = 2) -> list[datetime]:
    rng = np.random.default_rng(seed)
    stamps = [first + timedelta(days=i) for i in range(days)]
    weekly = [1.0, 0.95, 0.95, 1.0, 1.15, 1.35, 1.25]
    lines = ["ds,y"] + [f"{t:%Y-%m-%d},{500 * weekly[t.weekday()] * (1 + rng.normal(0, 0.05)):.2f}" for t in stamps]
    path.write_text("\n".join(lines) + "\n")
    return stamps


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OBS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("OBS_FORECASTER_HISTORY_DAYS", "60")
    monkeypatch.setenv("OBS_FORECASTER_BACKTEST_FOLDS", "3")
    monkeypatch.setenv("OBS_FORECASTER_BACKTEST_HORIZON_DAYS", "7")
    return tmp_path


def test_csv_backtest_folds_are_the_last_windows_before_the_end(env):
    path = env / "shop.csv"
    stamps = write_daily(path, 150)
    result = CliRunner().invoke(
        app, ["forecast", "backtest", "--csv", str(path), "--granularity", "day", "--horizon", "10", "--folds", "4"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    # expected, from the file's own timestamps: windows [end-40, end-30), ..., [end-10, end)
    cutoffs = [stamps[len(stamps) - k * 10] for k in (4, 3, 2, 1)]
    assert [f["cutoff"] for f in body["fold_results"]] == [f"{c:%Y-%m-%d}T00:00:00Z" for c in cutoffs]
    assert [f["train_start"] for f in body["fold_results"]] == [
        f"{c - timedelta(days=60):%Y-%m-%d}T00:00:00Z" for c in cutoffs
    ]  # OBS_FORECASTER_HISTORY_DAYS
    assert {f["train_points"] for f in body["fold_results"]} == {60}
    assert (body["folds"], body["horizon"], body["points"], body["series"]["points"]) == (4, 10, 40, 150)
    for fold in body["fold_results"]:
        assert fold["model"] in (
            "prophet",
            "ets",
            "seasonal_naive_week",
            "seasonal_naive_day",
            "ensemble",
            "baseline_median",
            "seasonal_median",
        )
        assert fold["mae"] > 0 and 0 <= fold["coverage"] <= 1 and fold["calibrated"]
        assert set(fold["baselines_mae"]) == {"seasonal_naive_day", "seasonal_naive_week", "ets"}
    # totals are the folds' pooled figures (equal-sized folds: mean of the fold MAEs)
    assert body["mae"] == pytest.approx(np.mean([f["mae"] for f in body["fold_results"]]), rel=1e-5)
    assert body["baselines"]["ets"]["mae"] == pytest.approx(
        np.mean([f["baselines_mae"]["ets"] for f in body["fold_results"]]), rel=1e-5
    )
    assert body["relative_mae"] == pytest.approx(
        body["mae"] / body["baselines"][body["best_baseline"]]["mae"], rel=1e-4
    )


def test_hourly_csv_with_offsets_is_read_in_utc(env):
    path = env / "hourly.csv"
    start = datetime(2025, 3, 3)
    rows = ["ds,y"] + [
        f"{start + timedelta(hours=i):%Y-%m-%dT%H:%M:%S}+01:00,{100 + 50 * ((i % 24) > 8):d}" for i in range(24 * 12)
    ]
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(
        app, ["forecast", "backtest", "--csv", str(path), "--granularity", "hour", "--horizon", "24", "--folds", "2"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["series"] == {"start": "2025-03-02T23:00:00Z", "end": "2025-03-14T22:00:00Z", "points": 288}  # UTC
    # the last two days of hours: from 24 x 2 and 24 x 1 hours before the end
    assert [f["cutoff"] for f in body["fold_results"]] == ["2025-03-12T23:00:00Z", "2025-03-13T23:00:00Z"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("ds,y\n2025-01-01,1\n2025-01-02,abc\n", "line 3: y 'abc' is not a finite number"),
        ("ds,y\n2025-01-01,1\nyesterday,2\n", "line 3: ds 'yesterday' is not a timestamp"),
        ("date,value\n2025-01-01,1\n", "no column ds, y"),
        ("ds,y\n2025-01-01,1\n2025-01-01,2\n", "2025-01-01 00:00:00 appears more than once"),
        ("ds,y\n2025-01-01,1\n2025-01-02,1\n2025-01-04,1\n", "1 missing day(s), the first 2025-01-03"),
        ("ds,y\n2025-01-01 12:00,1\n", "is not the start of a day"),
    ],
)
def test_bad_files_are_refused_with_what_is_wrong(env, content, message):
    path = env / "bad.csv"
    path.write_text(content)
    result = CliRunner().invoke(app, ["forecast", "backtest", "--csv", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_too_short_a_file_says_how_much_is_needed(env):
    path = env / "short.csv"
    write_daily(path, 40)
    result = CliRunner().invoke(app, ["forecast", "backtest", "--csv", str(path), "--horizon", "7", "--folds", "5"])
    assert result.exit_code == 3 and "49 needed" in result.output  # 14 to train + 5 x 7


def test_metric_and_csv_are_exclusive(env):
    path = env / "shop.csv"
    write_daily(path, 30)
    assert CliRunner().invoke(app, ["forecast", "backtest", "revenue", "--csv", str(path)]).exit_code == 1
    assert CliRunner().invoke(app, ["forecast", "backtest"]).exit_code == 1
