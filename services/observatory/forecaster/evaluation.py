"""The honest backtest: what the forecaster would have served, scored on data it never saw.

Folds are the last K consecutive non-overlapping windows of `horizon` buckets ending at the series'
end. For each fold, everything before its cutoff is treated as "now": the refresh runs exactly as in
the service (selection over its own inner folds, band calibration; each fit on at most the
configured history window before its cutoff; inner folds as long as the selection horizon, or as the
backtest's horizon when that is longer, so the band is calibrated on the steps it is scored on), the chosen model forecasts the fold, and the fold's
actuals score it (MAE, MAPE, MASE, coverage of the calibrated band). The baselines (seasonal naive
with the daily and the weekly season, ETS) forecast the same folds from the same data.

relative_mae = MAE(served) / MAE(best baseline over all folds, chosen in hindsight); < 1: the
forecaster beats every baseline. relative_to_fallback = MAE(served) / MAE(of each fold's fallback: the
baseline, baselines' median or seasonal median the rule would have served had no richer candidate won, chosen before
the fold); 1 when the fallback served every fold, < 1 when the candidates it let serve paid off.
naive_* are the weekly seasonal naive's scores (the MASE reference).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from observatory.forecaster.blend import BLEND, blend
from observatory.forecaster.calibrate import split_step
from observatory.forecaster.candidates import BASELINES, FALLBACKS, CandidateError, forecast_all
from observatory.forecaster.model import SEASON, InsufficientHistory, ModelConfig, mape, mase_scale
from observatory.forecaster.selection import fold_cutoffs, select, serve, training_window
from observatory.forecaster.series import as_utc


@dataclass
class BacktestResult:
    granularity: str
    horizon: int
    folds: int
    season: int
    points: int
    mape: float | None
    mase: float | None
    relative_mae: float | None
    naive_mape: float | None
    naive_mase: float | None
    mae: float
    naive_mae: float
    coverage: float | None  # share of held-out actuals inside the served band
    coverage_halves: list  # the same in the first and in the second half of the horizon
    below: float  # share of held-out actuals under the band (what a "below band" alert would fire on)
    above: float  # over it
    interval_width: float  # its nominal level
    best_baseline: str | None
    fallback_mae: float | None  # MAE of each fold's own fallback on its held-out points (None: a fold had none)
    relative_to_fallback: float | None
    baselines: dict = field(default_factory=dict)  # name -> {mae, mape, mase}
    fold_results: list = field(default_factory=list)  # per fold: cutoff, model, mae, coverage, baselines

    def as_dict(self) -> dict:
        def clean(v):
            if isinstance(v, float):
                return round(v, 6) if math.isfinite(v) else None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return clean(asdict(self))


def _iso(ts) -> str:
    return as_utc(ts).isoformat().replace("+00:00", "Z")


def backtest(
    series: pd.DataFrame,
    granularity: str,
    horizon: int,
    folds: int,
    min_train: int,
    config: ModelConfig = ModelConfig(),
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Nested rolling-origin evaluation of the whole refresh (selection + calibration). Needs
    min_train points before the first fold. `progress(1)` is called after each fold."""
    y = series["y"].to_numpy(dtype=float)
    m = SEASON[granularity]
    needed = min_train + horizon * folds
    if folds < 1 or len(y) < needed:
        raise InsufficientHistory(needed, len(y), granularity)
    served: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    base: dict[str, list[np.ndarray]] = {b: [] for b in BASELINES}
    mases: dict[str, list[float]] = {b: [] for b in (*BASELINES, "served")}
    own: list[np.ndarray] = []  # per fold: the forecast of the fallback the selection had
    rows = []
    selection_h = config.pick(config.selection_horizon, granularity)
    for cutoff in fold_cutoffs(len(y), horizon, folds):
        before = series.iloc[:cutoff]
        actual = y[cutoff : cutoff + horizon]
        sel = select(before, granularity, min_train, config, max(horizon, selection_h))
        frame = serve(before, sel, horizon, granularity, config)
        fut = frame[frame["is_forecast"]]
        pred, lo, hi = (fut[c].to_numpy() for c in ("yhat", "yhat_lower", "yhat_upper"))
        served.append((actual, pred, lo, hi))
        train_y = training_window(series, cutoff, granularity, config)["y"].to_numpy(dtype=float)
        scale = mase_scale(train_y, m)
        baseline_mae = {}
        predicted = forecast_all(FALLBACKS, before.iloc[-len(train_y) :], horizon, granularity, config)
        fallback = predicted.get(sel.fallback) if sel.fallback else None
        if sel.fallback == BLEND and sel.blend:  # the blend of the members with the weights it had
            members = {f: p for f in sel.blend if sel.blend[f] > 0 and isinstance(p := predicted[f], np.ndarray)}
            weighted = all(sel.blend[f] == 0 or f in members for f in sel.blend)
            fallback = blend(members, {f: sel.blend[f] for f in members}) if weighted else None
        own.append(fallback if isinstance(fallback, np.ndarray) else np.full(horizon, np.nan))
        for name in BASELINES:
            p = predicted[name]
            if isinstance(p, CandidateError):  # e.g. ETS on a constant series: scored as its failure
                p = np.full(horizon, np.nan)
            base[name].append(p)
            baseline_mae[name] = float(np.mean(np.abs(actual - p)))
            if scale:
                mases[name].append(baseline_mae[name] / scale)
        mae = float(np.mean(np.abs(actual - pred)))
        if scale:
            mases["served"].append(mae / scale)
        rows.append(
            {
                "cutoff": _iso(series["ds"].iloc[cutoff]),
                "train_start": _iso(series["ds"].iloc[cutoff - len(train_y)]),
                "train_points": len(train_y),
                "model": sel.chosen,
                "fallback": sel.fallback,
                "reason": sel.reason,
                "calibrated": sel.calibration is not None,
                "mae": mae,
                "mape": mape(actual, pred),
                "coverage": float(np.mean((actual >= lo) & (actual <= hi))),
                "baselines_mae": baseline_mae,
            }
        )
        if progress:
            progress(1)
    actual, pred, lo, hi = (np.concatenate([f[i] for f in served]) for i in range(4))
    baselines: dict[str, dict[str, Any]] = {}  # name -> {mae, mape, mase[, error]}: reported as JSON
    for name, parts in base.items():
        p = np.concatenate(parts)
        if np.isnan(p).any():
            baselines[name] = {"mae": None, "mape": None, "mase": None, "error": "failed on some fold"}
            continue
        baselines[name] = {
            "mae": float(np.mean(np.abs(actual - p))),
            "mape": mape(actual, p),
            "mase": float(np.mean(mases[name])) if mases[name] else None,
        }
    ok = [b for b in BASELINES if baselines[b]["mae"] is not None]
    best = min(ok, key=lambda b: baselines[b]["mae"]) if ok else None
    mae = float(np.mean(np.abs(actual - pred)))
    own_p = np.concatenate(own)
    fallback_mae = None if np.isnan(own_p).any() else float(np.mean(np.abs(actual - own_p)))
    inside = (actual >= lo) & (actual <= hi)
    first = np.tile(np.arange(horizon) < split_step(horizon), folds)
    naive = baselines["seasonal_naive_week"]
    return BacktestResult(
        granularity=granularity,
        horizon=horizon,
        folds=folds,
        season=m,
        points=len(actual),
        mape=mape(actual, pred),
        mase=float(np.mean(mases["served"])) if mases["served"] else None,
        relative_mae=mae / baselines[best]["mae"] if best and baselines[best]["mae"] > 0 else None,
        naive_mape=naive["mape"],
        naive_mase=naive["mase"],
        mae=mae,
        naive_mae=naive["mae"],
        coverage=float(np.mean((actual >= lo) & (actual <= hi))),
        coverage_halves=[float(np.mean(inside[first])), float(np.mean(inside[~first]))],
        below=float(np.mean(actual < lo)),
        above=float(np.mean(actual > hi)),
        interval_width=config.interval_width,
        best_baseline=best,
        fallback_mae=fallback_mae,
        relative_to_fallback=mae / fallback_mae if fallback_mae else None,
        baselines=baselines,
        fold_results=rows,
    )
