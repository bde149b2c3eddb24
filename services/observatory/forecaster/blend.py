"""The fallback pool's blend (`pool_blend`, selection.py): a weighted mean of the pool members'
forecasts (the baselines, their median, the seasonal median), member f weighing 1 / m_f², m_f its
recency-weighted MAE on the folds before. Inverse-variance weights (Bates and Granger 1969) with the
MAE standing in for the error's scale: forecast combination hedges when the best member changes from
fold to fold, and leans on the member that has been right lately.

Chosen ex ante like the fallback itself: on selection fold i (from the second), the weights come from
folds 0 .. i-1 only; the served blend's weights from all the folds. No fit of its own.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from observatory.forecaster.candidates import Forecast, forecast
from observatory.forecaster.model import ModelConfig

BLEND = "pool_blend"

Folds = list[tuple[np.ndarray, np.ndarray]]  # per fold, oldest first: (actual, predicted)


def recent_mae(folds: Folds, half_life: float) -> float:
    """Mean of the folds' MAEs (oldest first), each weighted 2^(-age / half_life) with age 0 for the
    most recent fold: a model that was best long ago but not lately does not keep serving."""
    if not folds:
        return math.inf
    maes = np.array([np.mean(np.abs(a - p)) for a, p in folds])
    age = np.arange(len(folds))[::-1]
    return float(np.average(maes, weights=0.5 ** (age / max(half_life, 1e-9))))


def blend_weights(maes: dict[str, float]) -> dict[str, float]:
    """Weights summing to 1, proportional to 1 / MAE²; members with an MAE of 0 (exact so far) share
    the whole weight; a member without a finite MAE weighs 0."""
    exact = [f for f, m in maes.items() if m == 0]
    if exact:
        return {f: (1 / len(exact) if f in exact else 0.0) for f in maes}
    raw = {f: (1 / m**2 if math.isfinite(m) else 0.0) for f, m in maes.items()}
    total = sum(raw.values())
    if total == 0:
        raise ValueError("pool_blend: no member with a finite MAE")
    return {f: w / total for f, w in raw.items()}


def blend(predictions: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted mean of the members' forecasts (the weights sum to 1)."""
    return np.sum([w * np.asarray(predictions[f], dtype=float) for f, w in weights.items()], axis=0)


def pool_weights(held: dict[str, Folds], members: tuple[str, ...], upto: int, half_life: float) -> dict[str, float]:
    """The blend's weights from the members' folds before index `upto`."""
    return blend_weights({f: recent_mae(held[f][:upto], half_life) for f in members})


def blend_folds(held: dict[str, Folds], members: tuple[str, ...], half_life: float) -> Folds:
    """The blend on each fold from the second (all members scored on the same folds): (actual, the
    members' forecasts weighted from the folds before it). The first fold has no fold before it."""
    folds = len(held[members[0]])
    return [
        (held[members[0]][i][0], blend({f: held[f][i][1] for f in members}, pool_weights(held, members, i, half_life)))
        for i in range(1, folds)
    ]


def forecast_blend(
    weights: dict[str, float], history: pd.DataFrame, periods: int, granularity: str, config: ModelConfig
) -> Forecast:
    """The served blend: each member with a weight fitted on `history`, fitted and future values
    blended. Raises CandidateError when a member cannot be fitted."""
    quick = replace(config, uncertainty_samples=0)
    parts = {f: forecast(f, history, periods, granularity, quick) for f, w in weights.items() if w > 0}
    kept = {f: weights[f] for f in parts}
    return Forecast(
        blend({f: p.fitted for f, p in parts.items()}, kept), blend({f: p.future for f, p in parts.items()}, kept)
    )
