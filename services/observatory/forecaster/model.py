"""Prophet, the forecaster's richest candidate, and the error measures every evaluation uses (pure:
pandas in, pandas/numbers out, no I/O).

- `fit_predict`: Prophet with weekly seasonality; hourly data gets two daily profiles (weekdays and
  weekends, as conditional seasonalities) instead of one; yearly seasonality once the history spans
  `yearly_min_days`; country holidays (`holidays` package) when configured. Returns the history's
  fitted values and `periods` future buckets with yhat, yhat_lower, yhat_upper (clipped at 0: every
  metric here is a count or an amount). Its own band (Prophet's simulations) is only served when
  there is too little history to calibrate one from backtest residuals (see calibrate.py).
- MAPE: mean(|y - yhat| / |y|) over points with y != 0; MASE: MAE / in-sample MAE of the seasonal
  naive forecast y[t] = y[t - m] with m one week (7 days, 168 hours) (Hyndman & Koehler 2006).
Model candidates, selection and backtests: candidates.py, selection.py, evaluation.py.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatory.settings import FORECAST_CANDIDATES

FREQ = {"day": "D", "hour": "h"}
SEASON = {"day": 7, "hour": 168}  # MASE scale: seasonal naive with the weekly season
DAY_SEASON = {"day": 1, "hour": 24}  # the daily season (for daily data: the last value)


class InsufficientHistory(Exception):
    def __init__(self, needed: int, have: int, granularity: str) -> None:
        super().__init__(f"{have} complete {granularity}s of history, {needed} needed")
        self.needed, self.have, self.granularity = needed, have, granularity

    def __reduce__(self):  # pickles with its fields (it crosses from a fit worker to the API)
        return type(self), (self.needed, self.have, self.granularity)


@dataclass(frozen=True)
class ModelConfig:
    seasonality_mode: str = "multiplicative"
    interval_width: float = 0.95
    uncertainty_samples: int = 300  # Prophet's own band: only when no calibrated band is possible
    changepoint_prior_scale: float = 0.05
    prophet_trend: str = "flat"  # flat: held at its last value over the horizon; linear: the last slope goes on
    seed: int = 20260301
    candidates: tuple[str, ...] = FORECAST_CANDIDATES  # every known candidate, as the settings' default
    selection_folds: int = 5  # the most recent folds a candidate must win on (by the margin)
    calibration_folds: int = 30  # folds the baselines are scored on and the band is calibrated from
    selection_margin: float = 0.05  # a candidate serves only with an MAE this much below the best baseline's
    selection_horizon: tuple[int, int] = (14, 24)  # (days, hours) held out per selection fold
    history: tuple[int, int] = (1095, 24 * 28)  # (days, hours) each fit trains on at most
    holidays: tuple[str, ...] = ()  # ISO country codes for Prophet's holiday effects
    yearly_min_days: int = 730  # yearly seasonality from this much daily history
    ets_window: tuple[int, int] = (365, 24 * 28)  # ETS trains on the last (days, hours)

    def pick(self, pair: tuple[int, int], granularity: str) -> int:
        return pair[0] if granularity == "day" else pair[1]


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


def _weekday_columns(frame: pd.DataFrame) -> pd.DataFrame:
    weekend = frame["ds"].dt.day_of_week >= 5
    return frame.assign(is_weekday=~weekend, is_weekend=weekend)


def holiday_frame(countries: tuple[str, ...], first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame | None:
    """Public holidays of `countries` (ISO codes, `holidays` package) from first's year to a year past
    last: one row per (holiday, date) as Prophet wants them. Raises ValueError for an unknown code."""
    if not countries:
        return None
    import holidays as hol

    rows = []
    for code in countries:
        try:
            days = hol.country_holidays(code, years=range(first.year, last.year + 2))
        except NotImplementedError:
            raise ValueError(f"unknown holiday country {code!r} (ISO 3166 code, e.g. DE, US, FR)") from None
        rows += [(f"{code}:{name}", pd.Timestamp(day)) for day, name in days.items()]
    return pd.DataFrame(rows, columns=["holiday", "ds"]).drop_duplicates()


def prophet_settings(history: pd.DataFrame, granularity: str, config: ModelConfig) -> dict:
    """The seasonalities Prophet gets for this history (also reported in the model metadata)."""
    # Prophet's own measure of the span (last - first): below 730 days it warns that yearly is under-identified
    span_days = (history["ds"].iloc[-1] - history["ds"].iloc[0]).total_seconds() / 86400 if len(history) else 0
    return {
        "weekly_seasonality": True,
        "daily_seasonality": granularity == "hour",
        "daily_profiles": "weekday/weekend" if granularity == "hour" else None,
        "yearly_seasonality": granularity == "day" and span_days >= config.yearly_min_days,
        "holidays": list(config.holidays),
    }


def fit_predict(
    history: pd.DataFrame, periods: int, granularity: str, config: ModelConfig = ModelConfig(), band: bool = True
) -> pd.DataFrame:
    """history: columns ds (naive UTC, one row per bucket, no gaps) and y. Returns ds, yhat, yhat_lower,
    yhat_upper, is_forecast for the history and `periods` buckets after it. band=False skips Prophet's
    simulations (yhat_lower = yhat_upper = yhat): the served band is then calibrated elsewhere."""
    Prophet = _prophet()
    shape = prophet_settings(history, granularity, config)
    hourly = granularity == "hour"
    model = Prophet(
        growth="linear",
        weekly_seasonality=True,
        daily_seasonality=False,
        yearly_seasonality=shape["yearly_seasonality"],
        seasonality_mode=config.seasonality_mode if history["y"].abs().sum() > 0 else "additive",
        interval_width=config.interval_width,
        uncertainty_samples=config.uncertainty_samples if band else 0,
        changepoint_prior_scale=config.changepoint_prior_scale,
        holidays=holiday_frame(config.holidays, history["ds"].iloc[0], history["ds"].iloc[-1]),
    )
    train = history[["ds", "y"]]
    if hourly:  # one daily profile for weekdays, one for weekends
        model.add_seasonality("daily_weekday", period=1, fourier_order=6, condition_name="is_weekday")
        model.add_seasonality("daily_weekend", period=1, fourier_order=6, condition_name="is_weekend")
        train = _weekday_columns(train)
    model.fit(train)
    future = model.make_future_dataframe(periods=periods, freq=FREQ[granularity], include_history=True)
    if hourly:
        future = _weekday_columns(future)
    # the band comes from Prophet's simulations (numpy's global generator): seed it so the same
    # history always gives the same band (alert thresholds must not jitter between refreshes)
    np.random.seed(config.seed)
    fc = model.predict(future)
    if config.prophet_trend == "flat":
        fc = hold_trend(fc, len(history))
    if not band:
        fc["yhat_lower"] = fc["yhat_upper"] = fc["yhat"]
    fc = fc[["ds", "yhat", "yhat_lower", "yhat_upper"]].copy()
    for col in ("yhat", "yhat_lower", "yhat_upper"):
        fc[col] = fc[col].clip(lower=0.0)
    fc["is_forecast"] = fc["ds"] > history["ds"].iloc[-1]
    return fc.reset_index(drop=True)


def hold_trend(fc: pd.DataFrame, n: int) -> pd.DataFrame:
    """Prophet's predict frame with the trend of the rows after the first n (the forecast) held at the
    value of row n - 1 (the last history row): yhat = trend x (1 + multiplicative terms) + additive terms,
    Prophet's own formula, with that trend; the band, when there is one, moves with yhat. Seasonality and
    holidays still shape the forecast; a recent slope is not extrapolated (no run-away at a turning point)."""
    if n == 0 or len(fc) <= n:
        return fc
    trend = fc["trend"].to_numpy(dtype=float).copy()
    trend[n:] = trend[n - 1]
    yhat = trend * (1 + fc["multiplicative_terms"].to_numpy(dtype=float)) + fc["additive_terms"].to_numpy(dtype=float)
    shift = yhat - fc["yhat"].to_numpy(dtype=float)
    out = fc.copy()
    for col in ("yhat", "yhat_lower", "yhat_upper"):
        if col in out:
            out[col] = out[col].to_numpy(dtype=float) + shift
    return out


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
