"""Calibrated bands: the conformal quantile by hand, and coverage on held-out folds of the whole refresh
(selection + calibration, production candidates) for constant and for level-dependent noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory.forecaster.calibrate import calibrate, conformal_quantile, min_scores
from observatory.forecaster.evaluation import backtest
from observatory.forecaster.model import ModelConfig


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 21.0)  # 1 .. 20
    assert conformal_quantile(scores, 0.95) == 20.0  # ceil(21 * 0.95) = 20th smallest
    assert conformal_quantile(scores, 0.8) == 17.0  # ceil(21 * 0.8) = 17th
    assert conformal_quantile(scores[:18], 0.95) == np.inf  # 18 scores cannot bound 95%
    assert min_scores(0.95) == 19 and min_scores(0.9) == 9
    assert calibrate([(np.ones(10), np.zeros(10))], 0.95, 1.0) is None


def test_weighted_conformal_quantile_counts_each_score_by_its_weight():
    scores = np.array([1.0, 1.0, 1.0, 10.0])
    assert conformal_quantile(scores, 0.5) == 1.0  # ceil(5 * 0.5) = 3rd smallest
    assert conformal_quantile(scores, 0.5, np.ones(4)) == 1.0  # weights of 1: the same quantile
    # weights 1, 1, 1, 4 and the new point's 1: the three 1.0s hold 3/8 < 0.5 of the weight
    assert conformal_quantile(scores, 0.5, np.array([1.0, 1.0, 1.0, 4.0])) == 10.0
    assert conformal_quantile(scores, 0.95, np.array([1.0, 1.0, 1.0, 4.0])) == np.inf  # 7/8 < 0.95


def test_band_follows_noise_that_grew_in_the_most_recent_fold():
    # 20 folds of 12 steps, error 1 everywhere except 2 points of each horizon half of the last fold (error 3)
    folds = []
    for i in range(20):
        err = np.ones(12)
        if i == 19:
            err[[0, 1, 6, 7]] = 3.0
        folds.append((100.0 + err * np.where(np.arange(12) % 2, 1, -1), np.full(12, 100.0)))
    flat = calibrate(folds, 0.95, 100.0)
    recent = calibrate(folds, 0.95, 100.0, half_life=5)
    assert flat is not None and recent is not None
    assert flat.scale_of(np.array([100.0]))[0] * max(flat.quantiles) == pytest.approx(1.0)  # 2 of 120: ignored
    # weighted by 2^(-age/5), the last fold's 2 points per half hold more than 5% of each half's weight
    assert recent.scale_of(np.array([100.0]))[0] * min(recent.quantiles) == pytest.approx(3.0)


def test_relative_scale_is_chosen_for_noise_proportional_to_the_level():
    rng = np.random.default_rng(0)
    level = np.tile([100.0, 100.0, 1000.0], 40)
    folds = [(level[i : i + 24] * (1 + rng.normal(0, 0.1, 24)), level[i : i + 24]) for i in range(0, 120, 24)]
    cal = calibrate(folds, 0.9, float(level.mean()))
    assert cal.scale == "relative" and cal.scores == 120
    lower, upper = cal.band(np.array([100.0, 1000.0]))
    assert (upper - lower)[1] == pytest.approx(10 * (upper - lower)[0])
    homo = [(p + rng.normal(0, 20, 24), p) for _, p in folds]
    assert calibrate(homo, 0.9, float(level.mean())).scale == "absolute"


def series(days: int, heteroscedastic: bool, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    if heteroscedastic:  # noise 10% of a level that triples on weekends
        level = (300 + 0.3 * np.arange(days)) * np.array([1, 1, 1, 1, 1.3, 3, 2.5])[ds.day_of_week]
        y = level * (1 + rng.normal(0, 0.1, days))
    else:  # additive weekly shape, constant noise
        y = (
            500
            + 0.3 * np.arange(days)
            + np.array([0, -20, -20, 0, 40, 120, 90])[ds.day_of_week]
            + rng.normal(0, 30, days)
        )
    return pd.DataFrame({"ds": ds, "y": y})


@pytest.mark.parametrize("heteroscedastic", [False, True], ids=["homoscedastic", "heteroscedastic"])
def test_calibrated_band_covers_its_nominal_share_of_held_out_points(heteroscedastic):
    """25 held-out folds of 14 days (350 points, binomial SE 1.2 points at 95%), each forecast by a
    refresh that only saw the data before it: 5 selection folds -> 70 residuals -> conformal band."""
    folds, horizon = 25, 14
    config = ModelConfig(history=(180, 672), ets_window=(180, 672))
    s = series(180 + 5 * horizon + folds * horizon, heteroscedastic)
    result = backtest(s, "day", horizon, folds, 14, config)
    assert result.points == 350
    assert all(f["calibrated"] for f in result.fold_results)
    assert abs(result.coverage - 0.95) <= 0.03, result.coverage
    # and the served forecasts are as accurate as the best baseline on the same folds, or better
    assert result.relative_mae < 1.1


def test_recency_weights_too_light_for_a_finite_quantile_fall_back_to_the_unweighted_one():
    # 4 folds of 6 steps: 12 scores per horizon half, 24 pooled (>= 19: the unweighted 95% quantile is finite);
    # weighted by 2^(-age/5) the folds hold less than 19 units of weight: no finite weighted quantile
    folds = [(np.full(6, 100.0) + np.arange(1.0, 7.0) * (i + 1), np.full(6, 100.0)) for i in range(4)]
    flat, recent = calibrate(folds, 0.95, 100.0), calibrate(folds, 0.95, 100.0, half_life=5)
    assert flat is not None and recent is not None
    assert np.isfinite(recent.quantiles).all() and recent.quantiles == flat.quantiles
    lower, upper = recent.band(np.array([100.0]))
    assert np.isfinite(upper).all()
