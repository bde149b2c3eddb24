"""The fallback pool's blend (blend.py): its weights and values on hand-made folds, chosen only from the
folds before each fold; its place in the pool (selection.py) and in the backtest's own-fallback
comparator (evaluation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory.forecaster.blend import blend, blend_folds, blend_weights, pool_weights
from observatory.forecaster.candidates import forecast
from observatory.forecaster.evaluation import backtest
from observatory.forecaster.model import ModelConfig
from observatory.forecaster.selection import select, serve, training_window

FALLBACK_CONFIG = ModelConfig(candidates=("ets", "baseline_median", "seasonal_median", "pool_blend"))
MEMBERS = ("seasonal_naive_day", "seasonal_naive_week", "ets", "baseline_median", "seasonal_median")


def test_weights_are_inverse_squared_maes_summing_to_one():
    # 1/1² : 1/2² : 1/4² = 16 : 4 : 1 of 21
    assert blend_weights({"a": 1.0, "b": 2.0, "c": 4.0}) == pytest.approx({"a": 16 / 21, "b": 4 / 21, "c": 1 / 21})
    # no finite MAE (never scored): no weight
    assert blend_weights({"a": 2.0, "b": float("inf")}) == {"a": 1.0, "b": 0.0}
    # exact so far: the exact members share everything
    assert blend_weights({"a": 0.0, "b": 0.0, "c": 3.0}) == {"a": 0.5, "b": 0.5, "c": 0.0}
    with pytest.raises(ValueError, match="no member"):
        blend_weights({"a": float("inf")})


def test_blend_is_the_weighted_mean_step_by_step():
    out = blend({"a": np.array([10.0, 20.0]), "b": np.array([0.0, 40.0])}, {"a": 0.75, "b": 0.25})
    assert out.tolist() == [7.5, 25.0]


def _fold(actual: float, predicted: float) -> tuple[np.ndarray, np.ndarray]:
    return np.full(2, actual), np.full(2, predicted)


def test_each_folds_blend_is_weighted_from_the_folds_before_it_only():
    # actual 10 on every fold; a is off by 1 on fold 0 and by 4 after; b is off by 2 on fold 0, then exact
    held = {
        "a": [_fold(10, 11), _fold(10, 14), _fold(10, 14)],
        "b": [_fold(10, 8), _fold(10, 10), _fold(10, 10)],
    }
    folds = blend_folds(held, ("a", "b"), half_life=5)
    assert len(folds) == 2  # the first fold has no fold before it
    # fold 1: weights from fold 0 only (MAE 1 and 2 -> 0.8 / 0.2), not from fold 1's own errors
    assert folds[0][0].tolist() == [10, 10] and folds[0][1] == pytest.approx([0.8 * 14 + 0.2 * 10] * 2)
    # fold 2: b was exact on fold 1, but its recency-weighted MAE over folds 0-1 is 2·w0 / (w0 + 1) > 0,
    # w0 = 2^(-1/5); a's is (1·w0 + 4) / (w0 + 1)
    w0 = 2 ** (-1 / 5)
    ma, mb = (w0 + 4) / (w0 + 1), 2 * w0 / (w0 + 1)
    wa = (1 / ma**2) / (1 / ma**2 + 1 / mb**2)
    assert folds[1][1] == pytest.approx([wa * 14 + (1 - wa) * 10] * 2)
    assert pool_weights(held, ("a", "b"), 2, 5) == pytest.approx({"a": wa, "b": 1 - wa})


def wandering_level(seed: int = 4, days: int = 60) -> pd.DataFrame:
    """Hourly, a daily cycle on a level that walks from day to day (like a temperature): no single
    baseline is best for long, the best one changes from fold to fold."""
    rng = np.random.default_rng(seed)
    level = np.repeat(np.cumsum(rng.normal(0, 2, days)), 24)
    hours = np.arange(24 * days)
    y = 50 + level + 5 * np.sin(hours / 24 * 2 * np.pi) + rng.normal(0, 1, 24 * days)
    return pd.DataFrame({"ds": pd.date_range("2025-05-05", periods=24 * days, freq="h"), "y": y})


def test_a_level_wandering_from_day_to_day_is_served_by_the_blend_of_the_pool():
    series = wandering_level()
    sel = select(series, "hour", 72, FALLBACK_CONFIG)
    assert sel.fallback == sel.chosen == "pool_blend", sel.reason
    assert sel.blend is not None and set(sel.blend) == set(MEMBERS) and sum(sel.blend.values()) == pytest.approx(1)
    assert "with weights" in sel.reason
    assert sel.scores["pool_blend"].folds == sel.folds - 1  # scored from the second fold
    # reported like every candidate: against the best baseline on the same folds
    blend_score = sel.scores["pool_blend"]
    assert blend_score.relative_mae is not None and 0 < blend_score.relative_mae < 1.2
    assert blend_score.mae < min(sel.scores[f].mae for f in MEMBERS) * 1.05
    # served: the members fitted on the last window, weighted as the selection says
    frame = serve(series, sel, 24, "hour", FALLBACK_CONFIG)
    train = training_window(series, len(series), "hour", FALLBACK_CONFIG)
    members = {f: forecast(f, train, 24, "hour", FALLBACK_CONFIG).future for f in MEMBERS}
    expected = sum(sel.blend[f] * members[f] for f in MEMBERS)
    assert frame[frame["is_forecast"]]["yhat"].to_numpy() == pytest.approx(expected)
    assert (frame["yhat_upper"] > frame["yhat_lower"]).all()  # calibrated from the blend's own folds


def test_not_in_the_candidates_the_blend_is_neither_scored_nor_served():
    sel = select(wandering_level(), "hour", 72, ModelConfig(candidates=("ets", "baseline_median", "seasonal_median")))
    assert "pool_blend" not in sel.scores and sel.chosen != "pool_blend" and sel.blend is None


def test_backtest_scores_a_blend_fallback_against_itself():
    config = ModelConfig(candidates=FALLBACK_CONFIG.candidates, calibration_folds=12)
    result = backtest(wandering_level(), "hour", 24, 3, 72, config)
    folds = result.fold_results
    assert "pool_blend" in [f["fallback"] for f in folds]
    assert [f["fallback"] for f in folds] == [f["model"] for f in folds]
    assert result.relative_to_fallback == pytest.approx(1.0, abs=1e-12)
