"""ForecasterSettings -> ModelConfig (the knobs the pure model code takes; names validated by the settings)."""

from __future__ import annotations

from observatory.forecaster.model import ModelConfig
from observatory.settings import ForecasterSettings


def model_config(settings: ForecasterSettings) -> ModelConfig:
    return ModelConfig(
        seasonality_mode=settings.seasonality_mode,
        prophet_trend=settings.prophet_trend,
        interval_width=settings.interval_width,
        uncertainty_samples=settings.uncertainty_samples,
        candidates=settings.candidate_list(),
        selection_folds=settings.backtest_folds,
        calibration_folds=settings.calibration_folds if settings.backtest_folds else 0,
        selection_margin=settings.selection_margin,
        selection_horizon=(settings.backtest_horizon_days, settings.backtest_horizon_hours),
        history=(settings.history_days, settings.history_hours),
        holidays=settings.holiday_countries(),
        yearly_min_days=settings.yearly_min_days,
    )
