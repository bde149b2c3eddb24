"""Prophet models and their evaluation (pure: pandas in, pandas/dataclasses out, no I/O).

- `fit_predict`: Prophet with weekly seasonality (plus daily for hourly data), the history's fitted
  values and `periods` future buckets with yhat, yhat_lower, yhat_upper (clipped at 0: every metric
  here is a count or an amount).
- `backtest`: rolling-origin holdout. For each fold the model is fitted on everything before the
  cutoff and forecasts the next `horizon` buckets. Reported:
    MAPE  mean(|y - yhat| / |y|) over holdout points with y != 0
    MASE  MAE(model) / MAE of the in-sample seasonal-naive forecast (y[t] = y[t - m]) on the
          training data (Hyndman & Koehler 2006); < 1: better than seasonal naive in-sample
    relative_mae  MAE(model) / MAE(seasonal-naive forecast of the same holdout, which repeats the
          last season of the training data); < 1: beats seasonal naive out of sample
  and the same MAPE/MASE for the seasonal-naive baseline itself.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

FREQ = {"day": "D", "hour": "h"}
SEASON = {"day": 7, "hour": 24}     # seasonal-naive period (one week of days, one day of hours)


class InsufficientHistory(Exception):
    def __init__(self, needed: int, have: int, granularity: str) -> None:
        super().__init__(f"{have} complete {granularity}s of history, {needed} needed")
        self.needed, self.have, self.granularity = needed, have, granularity


@dataclass(frozen=True)
class ModelConfig:
    seasonality_mode: str = "multiplicative"
    interval_width: float = 0.95
    uncertainty_samples: int = 300
    changepoint_prior_scale: float = 0.05
    seed: int = 20260301


def _quiet() -> None:
    # cmdstanpy adds an INFO stream handler unless its logger already has one: give it a null handler
    stan = logging.getLogger("cmdstanpy")
    if not stan.handlers:
        stan.addHandler(logging.NullHandler())
    for name in ("prophet", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed": not used


def _prophet():
    _quiet()
    # Prophet 1.5 uses pandas APIs deprecated in pandas 3 (inplace=...): its problem, not the caller's
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"prophet\.")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"prophet\.")
    from prophet import Prophet
    _quiet()  # cmdstanpy resets its level on import
    return Prophet


def fit_predict(history: pd.DataFrame, periods: int, granularity: str, config: ModelConfig = ModelConfig()
                ) -> pd.DataFrame:
    """history: columns ds (naive UTC, one row per bucket, no gaps) and y. Returns ds, yhat, yhat_lower,
    yhat_upper, is_forecast for the history and `periods` buckets after it."""
    Prophet = _prophet()
    span_days = (history["ds"].iloc[-1] - history["ds"].iloc[0]).total_seconds() / 86400
    model = Prophet(
        growth="linear",
        weekly_seasonality=True,
        daily_seasonality=granularity == "hour",
        yearly_seasonality=span_days >= 730,
        seasonality_mode=config.seasonality_mode if history["y"].abs().sum() > 0 else "additive",
        interval_width=config.interval_width,
        uncertainty_samples=config.uncertainty_samples,
        changepoint_prior_scale=config.changepoint_prior_scale,
    )
    model.fit(history[["ds", "y"]])
    future = model.make_future_dataframe(periods=periods, freq=FREQ[granularity], include_history=True)
    # the band comes from Prophet's simulations (numpy's global generator): seed it so the same
    # history always gives the same band (alert thresholds must not jitter between refreshes)
    np.random.seed(config.seed)
    fc = model.predict(future)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
    for col in ("yhat", "yhat_lower", "yhat_upper"):
        fc[col] = fc[col].clip(lower=0.0)
    fc["is_forecast"] = fc["ds"] > history["ds"].iloc[-1]
    return fc.reset_index(drop=True)


def seasonal_naive(train: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """Repeat the last season of the training data."""
    last = train[-m:]
    return np.array([last[i % m] for i in range(horizon)], dtype=float)


def mape(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    mask = actual != 0
    if not mask.any():
        return None
    return float(np.mean(np.abs(actual[mask] - predicted[mask]) / np.abs(actual[mask])))


def mase_scale(train: np.ndarray, m: int) -> float | None:
    if len(train) <= m:
        return None
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    return scale if scale > 0 else None


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

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def backtest(series: pd.DataFrame, granularity: str, horizon: int, folds: int, min_train: int,
             config: ModelConfig = ModelConfig()) -> BacktestResult:
    """Rolling-origin evaluation: folds consecutive holdouts of `horizon` buckets at the end of
    `series`, each forecast from a model fitted on everything before it."""
    y = series["y"].to_numpy(dtype=float)
    m = SEASON[granularity]
    needed = max(min_train, 2 * m) + horizon * folds
    if folds < 1 or len(y) < needed:
        raise InsufficientHistory(needed, len(y), granularity)
    actual_all, model_all, naive_all, mases, naive_mases = [], [], [], [], []
    for k in range(folds, 0, -1):
        cutoff = len(y) - k * horizon
        train = series.iloc[:cutoff]
        fc = fit_predict(train, horizon, granularity, config)
        predicted = fc["yhat"].to_numpy()[cutoff:cutoff + horizon]
        actual = y[cutoff:cutoff + horizon]
        naive = seasonal_naive(y[:cutoff], horizon, m)
        scale = mase_scale(y[:cutoff], m)
        if scale:
            mases.append(float(np.mean(np.abs(actual - predicted))) / scale)
            naive_mases.append(float(np.mean(np.abs(actual - naive))) / scale)
        actual_all.append(actual)
        model_all.append(predicted)
        naive_all.append(naive)
    actual, predicted, naive = (np.concatenate(a) for a in (actual_all, model_all, naive_all))
    mae, naive_mae = float(np.mean(np.abs(actual - predicted))), float(np.mean(np.abs(actual - naive)))
    return BacktestResult(
        granularity=granularity, horizon=horizon, folds=folds, season=m, points=len(actual),
        mape=mape(actual, predicted), mase=float(np.mean(mases)) if mases else None,
        relative_mae=mae / naive_mae if naive_mae > 0 else None,
        naive_mape=mape(actual, naive), naive_mase=float(np.mean(naive_mases)) if naive_mases else None,
        mae=mae, naive_mae=naive_mae)
