"""ForecasterSettings -> ModelConfig (the knobs the pure model code takes), validated at start-up."""

from __future__ import annotations

KNOWN = ("prophet", "ets", "seasonal_naive_week", "seasonal_naive_day", "ensemble")


def _codes(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.strip().upper() for c in raw.split(",") if c.strip()))


def validate(settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(candidates, holiday countries); ValueError naming the setting for unknown ones. Light: the
    settings validate with it at start-up, before any model library is imported."""
    candidates = tuple(dict.fromkeys(c.strip() for c in settings.candidates.split(",") if c.strip()))
    unknown = [c for c in candidates if c not in KNOWN]
    if unknown or not candidates:
        raise ValueError(f"OBS_FORECASTER_CANDIDATES: unknown {unknown or 'empty list'}; choose from {', '.join(KNOWN)}")
    countries = _codes(settings.holidays)
    if countries:
        import holidays   # a dependency of prophet (the forecast extra)
        for code in countries:
            try:
                holidays.country_holidays(code)
            except NotImplementedError:
                raise ValueError(f"OBS_FORECASTER_HOLIDAYS: unknown country {code!r} (ISO 3166 code, e.g. DE, US)") from None
    return candidates, countries


def model_config(settings):
    """ForecasterSettings -> ModelConfig (observatory.forecaster.model)."""
    from observatory.forecaster.model import ModelConfig
    candidates, countries = validate(settings)
    return ModelConfig(
        seasonality_mode=settings.seasonality_mode, interval_width=settings.interval_width,
        uncertainty_samples=settings.uncertainty_samples, candidates=candidates,
        selection_folds=settings.backtest_folds,
        selection_horizon=(settings.backtest_horizon_days, settings.backtest_horizon_hours),
        history=(settings.history_days, settings.history_hours), holidays=countries,
        yearly_min_days=settings.yearly_min_days)
