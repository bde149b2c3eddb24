"""Model selection at every refresh: the candidates (candidates.py) are compared on rolling-origin
folds of the metric's own history; the one with the lowest MAE serves, with a band calibrated from
its fold residuals (calibrate.py). Pure: pandas in, dataclasses out.

Folds: the last K consecutive non-overlapping windows of `horizon` buckets before the end of the
series (K = selection_folds, fewer when the history is short); each fold trains on at most the
configured history window before its cutoff. With too few held-out points for a finite conformal
quantile (19 at 95%), the candidates are still scored but Prophet (else the first candidate) serves
with Prophet's own, uncalibrated band, and the metadata says so; with no fold at all nothing is scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from observatory.forecaster.calibrate import Calibration, calibrate, min_scores
from observatory.forecaster.candidates import BASELINES, CandidateError, forecast, forecast_all
from observatory.forecaster.model import FREQ, SEASON, ModelConfig, mape, mase_scale


def fold_cutoffs(n: int, horizon: int, folds: int) -> list[int]:
    """Start index of each held-out window: the last `folds` windows of `horizon` points, oldest first."""
    return [n - k * horizon for k in range(folds, 0, -1)]


def training_window(series: pd.DataFrame, cutoff: int, granularity: str, config: ModelConfig) -> pd.DataFrame:
    return series.iloc[max(0, cutoff - config.pick(config.history, granularity)) : cutoff]


def _r(v: float | None, digits: int = 4) -> float | None:
    return None if v is None or not math.isfinite(v) else round(v, digits)


@dataclass
class Score:
    mae: float | None = None
    mape: float | None = None
    mase: float | None = None
    relative_mae: float | None = None  # MAE / MAE of the best baseline on the same folds
    coverage: float | None = None  # held-out coverage of its calibrated band
    error: str | None = None

    def as_dict(self) -> dict:
        if self.error:
            return {"error": self.error}
        return {
            "mae": _r(self.mae),
            "mape": _r(self.mape),
            "mase": _r(self.mase),
            "relative_mae": _r(self.relative_mae),
            "coverage": _r(self.coverage),
        }


@dataclass
class Selection:
    granularity: str
    chosen: str
    folds: int
    horizon: int
    points: int
    scores: dict[str, Score] = field(default_factory=dict)
    best_baseline: str | None = None
    calibration: Calibration | None = None

    @property
    def score(self) -> Score:
        return self.scores.get(self.chosen, Score())

    # what store_forecast and the reports read
    @property
    def mape(self) -> float | None:
        return self.score.mape

    @property
    def mase(self) -> float | None:
        return self.score.mase

    def as_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "folds": self.folds,
            "horizon": self.horizon,
            "points": self.points,
            "season": SEASON[self.granularity],
            **self.score.as_dict(),
            "best_baseline": self.best_baseline,
            "best_baseline_mae": _r(self.scores[self.best_baseline].mae) if self.best_baseline else None,
            "candidates": {k: v.as_dict() for k, v in self.scores.items()},
            "band": self.calibration.as_dict() if self.calibration else {"method": "prophet", "calibrated": False},
        }


def select(series: pd.DataFrame, granularity: str, min_train: int, config: ModelConfig) -> Selection:
    """Compare the candidates (and the baselines) on rolling-origin folds of `series`."""
    h = config.pick(config.selection_horizon, granularity)
    n = len(series)
    k = min(config.selection_folds, max(0, (n - min_train) // h))
    default = "prophet" if "prophet" in config.candidates else config.candidates[0]
    if k == 0:
        return Selection(granularity, default, 0, h, 0)
    names = tuple(dict.fromkeys(config.candidates + BASELINES))
    y = series["y"].to_numpy(dtype=float)
    held: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in names}
    mases: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    for cutoff in fold_cutoffs(n, h, k):
        train = training_window(series, cutoff, granularity, config)
        actual = y[cutoff : cutoff + h]
        scale = mase_scale(train["y"].to_numpy(dtype=float), SEASON[granularity])
        for name, predicted in forecast_all(names, train, h, granularity, config).items():
            if isinstance(predicted, CandidateError):
                errors.setdefault(name, str(predicted))
                continue
            held[name].append((actual, predicted))
            if scale:
                mases[name].append(float(np.mean(np.abs(actual - predicted))) / scale)
    typical = float(np.mean(np.abs(y))) if n else 0.0
    scores: dict[str, Score] = {}
    for name in names:
        if name in errors:
            scores[name] = Score(error=errors[name])
            continue
        a = np.concatenate([f[0] for f in held[name]])
        p = np.concatenate([f[1] for f in held[name]])
        cal = calibrate(held[name], config.interval_width, typical)
        scores[name] = Score(
            mae=float(np.mean(np.abs(a - p))),
            mape=mape(a, p),
            mase=float(np.mean(mases[name])) if mases[name] else None,
            coverage=cal.coverage if cal else None,
        )
    # the scored baselines' MAE (a Score without error has its mae)
    baseline_mae = {b: mae for b in BASELINES if scores[b].error is None and (mae := scores[b].mae) is not None}
    best = min(baseline_mae, key=baseline_mae.__getitem__) if baseline_mae else None
    best_mae = baseline_mae[best] if best else 0.0
    for s in scores.values():
        if best_mae > 0 and s.error is None and s.mae is not None:
            s.relative_mae = s.mae / best_mae
    ranked = [c for c in config.candidates if scores[c].error is None]
    if not ranked or k * h < min_scores(config.interval_width):
        # scored, but too few held-out points to calibrate a band: the default serves with its own
        return Selection(granularity, default, k if ranked else 0, h, k * h if ranked else 0, scores, best)
    chosen = min(ranked, key=lambda c: (scores[c].mae, ranked.index(c)))
    return Selection(
        granularity, chosen, k, h, k * h, scores, best, calibrate(held[chosen], config.interval_width, typical)
    )


def serve(
    series: pd.DataFrame, selection: Selection, periods: int, granularity: str, config: ModelConfig
) -> pd.DataFrame:
    """Fit the selected model on the last history window and forecast `periods` ahead with its
    calibrated band. Columns ds, yhat, yhat_lower, yhat_upper, is_forecast (history rows included)."""
    train = training_window(series, len(series), granularity, config)
    cal = selection.calibration
    own_band = cal is None and selection.chosen == "prophet"
    try:
        fc = forecast(
            selection.chosen,
            train,
            periods,
            granularity,
            config if own_band else replace(config, uncertainty_samples=0),
            band=own_band,
        )
    except CandidateError:
        if selection.chosen == "prophet":
            raise
        # fitted fine on every fold but not on the whole window: Prophet, with its own band
        selection.chosen, selection.calibration, own_band, cal = "prophet", None, True, None
        fc = forecast("prophet", train, periods, granularity, config, band=True)
    yhat = np.concatenate([fc.fitted, fc.future])
    if cal is not None:
        lower, upper = cal.band(yhat)
    elif own_band:
        assert fc.lower is not None and fc.upper is not None  # band=True: Prophet's own band
        lower, upper = fc.lower, fc.upper
    else:
        lower = upper = yhat
    last = train["ds"].iloc[-1]
    future = pd.date_range(last, periods=periods + 1, freq=FREQ[granularity])[1:]
    ds = pd.concat([train["ds"], pd.Series(future)], ignore_index=True)
    return pd.DataFrame(
        {
            "ds": ds,
            "yhat": yhat,
            "yhat_lower": np.minimum(lower, yhat),
            "yhat_upper": np.maximum(upper, yhat),
            "is_forecast": ds > last,
        }
    )
