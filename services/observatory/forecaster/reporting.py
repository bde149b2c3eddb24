"""The forecaster's side of the reports (observatory.reports.forecast.ForecastSource): the history
and the daily forecast a report draws, as plain data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from observatory.forecaster.model import InsufficientHistory
from observatory.forecaster.series import load_series
from observatory.reports.forecast import ChartForecast

if TYPE_CHECKING:
    from observatory.forecaster.service import ForecastService


def report_history(service: ForecastService, metric: str, now: datetime, days: int) -> pd.DataFrame:
    return load_series(service.analytics, metric, "day", now, days)


def report_forecast(service: ForecastService, metric: str, now: datetime, days: int) -> ChartForecast:
    try:
        model = service.models.get((metric, "day"))
        if model is None or service.stale(model, now):
            model = service.fit(metric, "day", now)
            service.models[(metric, "day")] = model
    except InsufficientHistory as exc:
        return ChartForecast(None, f"No forecast yet: {exc}.")
    future = model.frame[model.frame["is_forecast"]].head(days)
    note = (
        f"Forecast: {model.backtest.chosen} (best model by backtest), "
        f"{int(model.frame['is_forecast'].sum())} days ahead, "
        f"{service.settings.interval_width:.0%} band, fitted {model.fitted_at:%Y-%m-%d %H:%M} UTC on "
        f"{model.history_points} days of history"
        + (
            f"; backtest MAPE {model.backtest.mape * 100:.1f}%"
            if model.backtest and model.backtest.mape is not None
            else ""
        )
        + "."
    )
    return ChartForecast(future, note, model.frame)
