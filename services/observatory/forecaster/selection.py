"""Model selection at every refresh, honest and conservative: the candidates (candidates.py) are
compared on rolling-origin folds of the metric's own history, and a model richer than the baselines
serves only when it clearly beats them on the most recent folds; the band is calibrated from the
served model's fold residuals (calibrate.py). Pure: pandas in, dataclasses out.

Folds: the last K consecutive non-overlapping windows of `horizon` buckets before the end of the
series (K = calibration_folds, fewer when the history is short); each fold trains on at most the
configured history window before its cutoff. `horizon` is the selection horizon; a backtest of a
longer horizon selects on folds of its own length (same steps scored in selection and in the test).

The rule:
  1. The fallback pool: the baselines (seasonal naive with the day and the week season, ETS), their
     median at each step (`baseline_median`), the seasonal median (`seasonal_median`: the median
     of the same weekday / hour of the week over the last weeks) and the pool's blend (`pool_blend`,
     blend.py: the mean of the other members weighted by 1 / MAE² on the folds before each fold,
     scored from the second fold), the last three without a fit of their own, are scored on all K
     folds; the one with the lowest recency-weighted MAE is the fallback: each fold's MAE weighs
     2^(-age / R), age 0 for the most recent fold (R = selection_folds; the baselines' median and the
     blend hedge when the best baseline changes from fold to fold, the seasonal median smooths a
     noisy or spiky week; the weights follow a model that stopped being the best, e.g. at a holiday
     season).
  2. Every other candidate (Prophet, the ensemble) is scored on the most recent R folds
     (R = selection_folds). It serves only if its MAE there is at least `selection_margin` below
     the fallback pool's best MAE on the same R folds (the lowest such MAE wins); otherwise the fallback
     serves. With fewer than R folds nothing but the fallback can serve (no selection from fewer
     folds than the rule needs).
  3. The served model's band: split conformal on its own fold residuals, per horizon half, each
     fold's residuals weighted 2^(-age / R) as in 1 (calibrate.py: a recent change of the noise
     moves the band within a few folds).
With too few held-out points for a finite conformal quantile (19 at 95%), the candidates are still
scored but Prophet (else the first candidate) serves with Prophet's own, uncalibrated band; with no
fold at all nothing is scored. `Selection.reason` says which case applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from observatory.forecaster.blend import BLEND, blend_folds, forecast_blend, pool_weights, recent_mae
from observatory.forecaster.calibrate import Calibration, calibrate, min_scores
from observatory.forecaster.candidates import BASELINES, FALLBACKS, CandidateError, forecast, forecast_all
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
    folds: int = 0  # folds it was scored on

    def as_dict(self) -> dict:
        if self.error:
            return {"error": self.error}
        return {
            "mae": _r(self.mae),
            "mape": _r(self.mape),
            "mase": _r(self.mase),
            "relative_mae": _r(self.relative_mae),
            "coverage": _r(self.coverage),
            "folds": self.folds,
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
    reason: str = ""  # why the served model serves
    fallback: str | None = None  # what serves unless a richer candidate wins (None: too few folds to have one)
    blend: dict[str, float] | None = None  # pool_blend's member weights from all the folds (when it was scored)

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
            "reason": self.reason,
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


def select(
    series: pd.DataFrame, granularity: str, min_train: int, config: ModelConfig, horizon: int | None = None
) -> Selection:
    """Score the baselines on the calibration folds and the other candidates on the most recent
    selection folds of `series`; serve a candidate only if it wins by the margin (module docstring).
    horizon: the fold length (default: the configured selection horizon); a backtest passes the
    horizon it scores, so the selection and the band are judged on the steps they will serve."""
    h = horizon or config.pick(config.selection_horizon, granularity)
    n = len(series)
    k = min(max(config.calibration_folds, config.selection_folds), max(0, (n - min_train) // h))
    default = "prophet" if "prophet" in config.candidates else config.candidates[0]
    if k == 0:
        return Selection(granularity, default, 0, h, 0, reason="no fold: too little history")
    recent = min(config.selection_folds, k)
    fallbacks = tuple(c for c in FALLBACKS if c in BASELINES or c in config.candidates)
    challengers = tuple(c for c in config.candidates if c not in (*FALLBACKS, BLEND))
    y = series["y"].to_numpy(dtype=float)
    held: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in (*fallbacks, *challengers)}
    mases: dict[str, list[float]] = {name: [] for name in held}
    errors: dict[str, str] = {}
    for i, cutoff in enumerate(fold_cutoffs(n, h, k)):
        train = training_window(series, cutoff, granularity, config)
        actual = y[cutoff : cutoff + h]
        scale = mase_scale(train["y"].to_numpy(dtype=float), SEASON[granularity])
        names = fallbacks + (challengers if i >= k - recent else ())
        for name, predicted in forecast_all(names, train, h, granularity, config).items():
            if isinstance(predicted, CandidateError):
                errors.setdefault(name, str(predicted))
                continue
            held[name].append((actual, predicted))
            if scale:
                mases[name].append(float(np.mean(np.abs(actual - predicted))) / scale)
    typical = float(np.mean(np.abs(y))) if n else 0.0
    scores = {name: _score(held[name], mases[name], errors.get(name), config, typical) for name in held}
    baseline_mae = {b: mae for b in BASELINES if scores[b].error is None and (mae := scores[b].mae) is not None}
    best = min(baseline_mae, key=baseline_mae.__getitem__) if baseline_mae else None
    if best:  # against the best baseline's MAE on the same (most recent) folds
        for s in scores.values():
            ref = _mae(held[best][-s.folds :]) if s.folds else 0.0
            if s.error is None and s.mae is not None and ref > 0:
                s.relative_mae = s.mae / ref
    if best is None or k * h < min_scores(config.interval_width):
        # scored, but too few held-out points to calibrate a band: the default serves with its own
        why = "no baseline could be fitted" if best is None else f"{k * h} held-out points: too few to calibrate a band"
        return Selection(granularity, default, k, h, k * h, scores, best, reason=why)
    weights = None
    members = tuple(f for f in fallbacks if scores[f].error is None and len(held[f]) == k)
    if BLEND in config.candidates and len(members) > 1 and (k - 1) * h >= min_scores(config.interval_width):
        held[BLEND] = blend_folds(held, members, config.selection_folds)
        s = scores[BLEND] = _score(held[BLEND], [], None, config, typical)
        ref = _mae(held[best][-s.folds :])  # the best baseline on the same (later k - 1) folds
        s.relative_mae = s.mae / ref if s.mae is not None and ref > 0 else None
        weights = pool_weights(held, members, k, config.selection_folds)
        fallbacks = (*fallbacks, BLEND)
    pool = {f: recent_mae(held[f], config.selection_folds) for f in fallbacks if scores[f].error is None}
    chosen = fallback = min(pool, key=pool.__getitem__)
    why = (
        f"{chosen}: the best of the fallback pool (the baselines, their median, the seasonal median, their blend) "
        f"over {k} folds (half-life {config.selection_folds})"
    )
    if chosen == BLEND and weights:
        why += " with weights " + ", ".join(f"{f} {w:.2f}" for f, w in weights.items())
    if k < config.selection_folds:
        why += f"; {k} folds < {config.selection_folds} needed to select any other candidate"
    else:
        # the challengers against the best of the fallback pool on the same recent folds
        ref = min(_mae(held[b][-recent:]) for b in pool)
        wins = {
            c: m
            for c in challengers
            if scores[c].error is None
            and len(held[c]) == recent
            and (m := _mae(held[c])) <= (1 - config.selection_margin) * ref
        }
        if wins:
            chosen = min(wins, key=wins.__getitem__)
            why = (
                f"{chosen}: MAE {wins[chosen]:.4g} over the last {recent} folds, more than "
                f"{config.selection_margin:.0%} below the best fallback's {ref:.4g}"
            )
        else:
            why += (
                f"; no candidate beat the best fallback by {config.selection_margin:.0%} over the last {recent} folds"
            )
    cal = calibrate(held[chosen], config.interval_width, typical, config.selection_folds)
    return Selection(granularity, chosen, k, h, k * h, scores, best, cal, why, fallback, weights)


def _mae(folds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    return float(np.mean(np.concatenate([np.abs(a - p) for a, p in folds]))) if folds else 0.0


def _score(folds, mases: list[float], error: str | None, config: ModelConfig, typical: float) -> Score:
    if error:
        return Score(error=error)
    if not folds:
        return Score(error="not scored")
    a = np.concatenate([f[0] for f in folds])
    p = np.concatenate([f[1] for f in folds])
    cal = calibrate(folds, config.interval_width, typical, config.selection_folds)
    return Score(
        mae=float(np.mean(np.abs(a - p))),
        mape=mape(a, p),
        mase=float(np.mean(mases)) if mases else None,
        coverage=cal.coverage if cal else None,
        folds=len(folds),
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
        if selection.chosen == BLEND and selection.blend:
            fc = forecast_blend(selection.blend, train, periods, granularity, config)
        else:
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
    if cal is not None:  # history rows: the first bucket's width; future rows: their step's
        steps = np.concatenate([np.zeros(len(fc.fitted), dtype=int), np.arange(len(fc.future))])
        lower, upper = cal.band(yhat, steps)
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
