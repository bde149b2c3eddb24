"""The backtest's second comparator: each held-out fold against the fallback the selection had before
that fold (the baseline, or the baselines' median, that serves unless a richer candidate wins)."""

from __future__ import annotations

import numpy as np
import pytest

from observatory.forecaster.evaluation import backtest
from observatory.forecaster.model import ModelConfig
from tests.unit.forecaster.test_calibration import series

BASELINES_ONLY = ("ets", "seasonal_naive_week", "seasonal_naive_day")


def test_with_only_baselines_to_serve_the_served_model_is_the_fallback_on_every_fold():
    config = ModelConfig(candidates=(*BASELINES_ONLY, "baseline_median"), history=(120, 672), ets_window=(120, 672))
    result = backtest(series(120 + 10 * 14 + 6 * 14, heteroscedastic=False), "day", 14, 6, 14, config)
    assert [f["fallback"] for f in result.fold_results] == [f["model"] for f in result.fold_results]
    assert result.relative_to_fallback == pytest.approx(1.0, abs=1e-12)


def test_fallback_mae_is_the_mae_of_each_folds_own_fallback():
    # no median among the candidates: every fold's fallback is a single baseline, whose held-out MAE
    # the fold reports beside the others; folds are equally long, so the pooled MAE is their mean
    config = ModelConfig(candidates=("prophet", *BASELINES_ONLY), history=(120, 672), ets_window=(120, 672))
    result = backtest(series(120 + 10 * 14 + 4 * 14, heteroscedastic=True, seed=3), "day", 14, 4, 14, config)
    folds = result.fold_results
    assert all(f["fallback"] in BASELINES_ONLY for f in folds)
    expected = float(np.mean([f["baselines_mae"][f["fallback"]] for f in folds]))
    assert result.fallback_mae == pytest.approx(expected, rel=1e-9)
    assert result.relative_to_fallback == pytest.approx(result.mae / expected, rel=1e-9)
