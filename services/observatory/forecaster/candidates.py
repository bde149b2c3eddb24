"""The forecasting models a metric can be served by, behind one call (pure: arrays in, arrays out).

  prophet               model.fit_predict (weekday/weekend daily profiles, yearly, holidays)
  ets                   Holt-Winters exponential smoothing (statsmodels): additive damped trend,
                        additive weekly season (7 days / 168 hours; 24 hours or none when the history
                        is shorter than two seasons), trained on the last `ets_window` buckets
  seasonal_naive_week   repeat the last week (7 days / 168 hours)
  seasonal_naive_day    repeat the last day (24 hours; for daily data: the last value)
  ensemble              mean of prophet and ets
  baseline_median       the median of the three baselines at each step (no fit of its own)
  seasonal_median       at each step, the median of the values at the same place in the week (weekday /
                        hour of the week) over the last `SEASONS_BACK` = 6 weeks, fewer when the window
                        is shorter (hourly: the 4 weeks of the 28-day window); no fit: a weekly naive
                        whose noise and one-off spikes are smoothed away
  pool_blend            (blend.py, selection.py) the mean of the fallbacks above weighted by 1 / MAE² on
                        the folds before: not a model of this module, the selection builds it

Baselines (what the relative MAE is measured against): both seasonal naives and ETS.
Every forecast is clipped at 0 (metrics are counts and amounts).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from observatory.forecaster.model import DAY_SEASON, SEASON, ModelConfig, fit_predict, seasonal_naive

BASELINES = ("seasonal_naive_day", "seasonal_naive_week", "ets")
FALLBACKS = (*BASELINES, "baseline_median", "seasonal_median")  # what serves unless a richer candidate wins
SEASONS_BACK = 6  # weeks the seasonal median looks back


class CandidateError(Exception):
    """A candidate could not be fitted on this history (it is then left out of the comparison)."""


@dataclass
class Forecast:
    fitted: np.ndarray  # in-sample values for the training buckets
    future: np.ndarray  # the `periods` buckets after them
    lower: np.ndarray | None = None  # Prophet's own band (only with band=True)
    upper: np.ndarray | None = None


def _naive(y: np.ndarray, periods: int, m: int) -> Forecast:
    m = max(1, min(m, len(y)))
    fitted = np.concatenate([y[:m], y[:-m]]) if len(y) > m else y.copy()
    return Forecast(fitted, seasonal_naive(y, periods, m))


def _seasonal_median(y: np.ndarray, periods: int, m: int, k: int = SEASONS_BACK) -> Forecast:
    """Future step i: the median of the values at its place in the season over the last k seasons
    (fewer when the history is shorter). Fitted step t: the median of y[t - m], .., y[t - k·m] (those
    inside the history); the first season's fitted values are the values themselves."""
    n = len(y)
    seasons = min(k, n // m)
    if seasons < 1:
        raise CandidateError(f"seasonal_median: {n} points, less than one season of {m}")
    profile = np.median(y[n - seasons * m :].reshape(seasons, m), axis=0)  # column c: steps n + c (mod m)
    back = np.full((seasons, n), np.nan)  # row j - 1: the value j seasons before each step
    for j in range(1, seasons + 1):
        back[j - 1, j * m :] = y[: n - j * m]
    fitted = np.asarray(y, dtype=float).copy()
    fitted[m:] = np.nanmedian(back[:, m:], axis=0)
    return Forecast(fitted, np.resize(profile, periods))


def _ets(y: np.ndarray, periods: int, granularity: str, config: ModelConfig) -> Forecast:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    window = config.pick(config.ets_window, granularity)
    train = y[-window:]
    n = len(train)
    m = next((p for p in (SEASON[granularity], DAY_SEASON[granularity]) if p > 1 and n >= 2 * p + 10), None)
    if n < 4 or not np.isfinite(train).all():
        raise CandidateError(f"ets: {n} points")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            fit = ExponentialSmoothing(
                train,
                trend="add",
                damped_trend=True,
                seasonal="add" if m else None,
                seasonal_periods=m,
                initialization_method="heuristic" if m else "estimated",
            ).fit(use_brute=False)  # brute-force start values: 1/3 of the time, no gain here
            future = np.asarray(fit.forecast(periods), dtype=float)
            fitted = np.concatenate([y[: len(y) - n], np.asarray(fit.fittedvalues, dtype=float)])
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise CandidateError(f"ets: {exc}") from exc
    if not np.isfinite(future).all():
        raise CandidateError("ets: non-finite forecast")
    return Forecast(fitted, future)


def _prophet(history: pd.DataFrame, periods: int, granularity: str, config: ModelConfig, band: bool) -> Forecast:
    fc = fit_predict(history, periods, granularity, config, band=band)
    n = len(history)
    yhat = fc["yhat"].to_numpy()
    lower, upper = (fc["yhat_lower"].to_numpy(), fc["yhat_upper"].to_numpy()) if band else (None, None)
    return Forecast(yhat[:n], yhat[n:], lower, upper)


def forecast(
    name: str, history: pd.DataFrame, periods: int, granularity: str, config: ModelConfig, band: bool = False
) -> Forecast:
    """Fit `name` on history (ds, y; already cut to the training window) and forecast `periods` ahead."""
    y = history["y"].to_numpy(dtype=float)
    if name == "prophet":
        out = _prophet(history, periods, granularity, config, band)
    elif name == "ets":
        out = _ets(y, periods, granularity, config)
    elif name == "seasonal_naive_week":
        out = _naive(y, periods, SEASON[granularity])
    elif name == "seasonal_naive_day":
        out = _naive(y, periods, DAY_SEASON[granularity])
    elif name == "seasonal_median":
        out = _seasonal_median(y, periods, SEASON[granularity])
    elif name in ("ensemble", "baseline_median"):
        names, combine = (("prophet", "ets"), np.mean) if name == "ensemble" else (BASELINES, np.median)
        parts = [forecast(n, history, periods, granularity, config) for n in names]
        out = Forecast(*(combine([getattr(p, a) for p in parts], axis=0) for a in ("fitted", "future")))
    else:
        raise ValueError(f"unknown candidate {name!r}")
    out.fitted, out.future = np.clip(out.fitted, 0, None), np.clip(out.future, 0, None)
    return out


def forecast_all(
    names: tuple[str, ...], history: pd.DataFrame, periods: int, granularity: str, config: ModelConfig
) -> dict[str, np.ndarray | CandidateError]:
    """Future values of several candidates on the same history; the ensemble reuses prophet and ets.
    A candidate that fails maps to its CandidateError."""
    out: dict[str, np.ndarray | CandidateError] = {}
    quick = replace(config, uncertainty_samples=0)
    combined: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = {
        "ensemble": (("prophet", "ets"), np.mean),
        "baseline_median": (BASELINES, np.median),
    }
    for name in [n for n in names if n not in combined] + [n for n in combined if n in names]:
        if name in combined:
            parts = [out[n] if n in out else _try(n, history, periods, granularity, quick) for n in combined[name][0]]
            bad = [p for p in parts if isinstance(p, CandidateError)]
            out[name] = bad[0] if bad else combined[name][1]([p for p in parts if isinstance(p, np.ndarray)], axis=0)
        else:
            out[name] = _try(name, history, periods, granularity, quick)
    return out


def _try(name, history, periods, granularity, config) -> np.ndarray | CandidateError:
    try:
        return forecast(name, history, periods, granularity, config).future
    except CandidateError as exc:
        return exc
