"""Model selection and the Prophet features it relies on, on generated series of known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory.forecaster.model import ModelConfig, fit_predict, prophet_settings
from observatory.forecaster.selection import fold_cutoffs, select, serve

WEEKLY = np.array([1.0, 0.95, 0.95, 1.0, 1.15, 1.35, 1.25])  # Monday .. Sunday


def weekly(days: int, noise: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2025-05-05", periods=days, freq="D")  # a Monday
    return pd.DataFrame({"ds": ds, "y": 1000 * WEEKLY[ds.day_of_week] * (1 + rng.normal(0, noise, days))})


def test_fold_cutoffs_are_the_last_windows_before_the_end():
    assert fold_cutoffs(100, 7, 3) == [79, 86, 93]


def test_exact_weekly_pattern_is_served_by_the_weekly_seasonal_naive():
    s = weekly(120, noise=0.0)
    sel = select(s, "day", 14, ModelConfig())
    assert (sel.folds, sel.points) == (7, 98)  # (120 - 14) // 14 folds: up to 10 calibration folds
    assert sel.chosen == "seasonal_naive_week"
    assert sel.scores["seasonal_naive_week"].mae == 0
    assert sel.scores["seasonal_naive_day"].mae > 100  # the last value is no forecast of a weekly shape


def test_noisy_weekly_pattern_is_served_by_a_seasonal_model_with_the_weekly_shape():
    s = weekly(200, noise=0.03, seed=1)
    config = ModelConfig()
    sel = select(s, "day", 14, config)
    assert sel.chosen != "seasonal_naive_day"
    assert sel.score.mae < 0.5 * sel.scores["seasonal_naive_day"].mae
    future = serve(s, sel, 14, "day", config)
    future = future[future["is_forecast"]]
    by_day = future.groupby(future["ds"].dt.day_of_week)["yhat"].mean()
    assert by_day[5] > 1.25 * by_day[1]  # Saturday above Tuesday, as in the data
    assert np.allclose(by_day.to_numpy() / 1000, WEEKLY, rtol=0.06)


def yearly_series(days: int, seed: int = 7) -> pd.DataFrame:
    """Trend x yearly season (a December peak on a sine) x weekly season x 4% noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-01-02", periods=days, freq="D")
    doy = ds.day_of_year.to_numpy()
    yearly = 1 + 0.5 * np.exp(-(((doy - 350) / 12.0) ** 2)) + 0.25 * np.sin(2 * np.pi * doy / 365.25)
    y = (200 + 0.15 * np.arange(days)) * yearly * WEEKLY[ds.day_of_week] * (1 + rng.normal(0, 0.04, days))
    return pd.DataFrame({"ds": ds, "y": y})


def test_trend_with_yearly_season_over_three_years_turns_yearly_on_and_wins():
    s = yearly_series(3 * 365 + 45)  # ends mid February 2026, the peak 2 months back
    config = ModelConfig()  # history: 1095 days
    sel = select(s.iloc[:-60], "day", 14, config)  # folds span the December peak
    assert prophet_settings(s.iloc[-1095:], "day", config)["yearly_seasonality"] is True
    assert sel.chosen == "prophet", {k: v.mae for k, v in sel.scores.items()}
    assert sel.score.relative_mae < 0.7  # ETS and the naives cannot know the December peak
    # one year of history: no yearly seasonality, and the same folds are clearly worse
    short = select(s.iloc[:-60], "day", 14, ModelConfig(history=(365, 672)))
    assert prophet_settings(s.iloc[-365:], "day", config)["yearly_seasonality"] is False
    assert short.scores["prophet"].mae > 1.3 * sel.scores["prophet"].mae


def test_holidays_move_the_forecast_on_their_dates():
    """German public holidays at 30% of a normal day in the history: with OBS_FORECASTER_HOLIDAYS=DE the
    forecast drops to about 30% on the coming German holidays and stays at the weekly level on the
    other days; without it, the holidays are forecast as ordinary days."""
    import holidays

    rng = np.random.default_rng(3)
    ds = pd.date_range("2023-11-01", "2025-11-30", freq="D")
    de = holidays.country_holidays("DE", years=range(2023, 2027))
    off = np.array([d.date() in de for d in ds])
    y = 1000 * WEEKLY[ds.day_of_week] * np.where(off, 0.3, 1.0) * (1 + rng.normal(0, 0.03, len(ds)))
    s = pd.DataFrame({"ds": ds, "y": y})
    plain = fit_predict(s, 45, "day", ModelConfig(), band=False)
    with_de = fit_predict(s, 45, "day", ModelConfig(holidays=("DE",)), band=False)
    plain, with_de = plain[plain["is_forecast"]].set_index("ds"), with_de[with_de["is_forecast"]].set_index("ds")
    normal = pd.Series(1000 * WEEKLY[with_de.index.day_of_week], index=with_de.index)  # the truth without holidays
    coming = [d for d in with_de.index if d.date() in de]
    assert [d.strftime("%m-%d") for d in coming] == ["12-25", "12-26", "01-01"]
    assert ((with_de["yhat"][coming] / normal[coming]).between(0.2, 0.45)).all(), with_de["yhat"][coming]
    assert (plain["yhat"][coming] / normal[coming] > 0.6).all(), plain["yhat"][coming]
    rest = [d for d in with_de.index if d not in coming]
    assert (abs(with_de["yhat"][rest] / normal[rest] - 1) < 0.1).all()


def test_settings_name_unknown_candidates_and_holiday_countries():
    import pytest
    from pydantic import ValidationError

    from observatory.forecaster.config import model_config
    from observatory.settings import ForecasterSettings

    with pytest.raises(ValidationError, match="OBS_FORECASTER_HOLIDAYS: unknown country 'XX'"):
        ForecasterSettings(holidays="XX")
    with pytest.raises(ValidationError, match=r"OBS_FORECASTER_CANDIDATES: unknown \['arima'\]"):
        ForecasterSettings(candidates="prophet,arima")
    config = model_config(ForecasterSettings(holidays="de, at", candidates="ets,prophet", history_days=800))
    assert (config.holidays, config.candidates, config.history[0]) == (("DE", "AT"), ("ets", "prophet"), 800)


def test_hourly_prophet_has_separate_weekday_and_weekend_daily_profiles():
    """Weekdays peak at 11:00, weekends at 15:00: one shared daily profile cannot forecast both."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2026-01-05", periods=24 * 28, freq="h")  # 4 weeks from a Monday
    hour = ds.hour.to_numpy()
    weekday = 20 + 100 * np.exp(-(((hour - 11) / 2.5) ** 2))
    weekend = 20 + 100 * np.exp(-(((hour - 15) / 2.5) ** 2))
    y = np.where(ds.day_of_week >= 5, weekend, weekday) * (1 + rng.normal(0, 0.05, len(ds)))
    fc = fit_predict(pd.DataFrame({"ds": ds, "y": y}), 24 * 7, "hour", ModelConfig(), band=False)
    future = fc[fc["is_forecast"]]
    peak = future.loc[future.groupby(future["ds"].dt.date)["yhat"].idxmax(), "ds"]
    assert {t.hour for t in peak if t.day_of_week < 5} == {11}
    assert {t.hour for t in peak if t.day_of_week >= 5} == {15}
    assert prophet_settings(fc, "hour", ModelConfig())["daily_profiles"] == "weekday/weekend"


def test_too_few_held_out_points_to_calibrate_scores_the_candidates_but_prophet_serves_its_own_band():
    s = weekly(40, noise=0.05, seed=4)  # 14 to train + 1 fold of 14: 14 points < 19 for 95%
    config = ModelConfig()
    sel = select(s, "day", 14, config)
    assert (sel.folds, sel.points, sel.chosen, sel.calibration) == (1, 14, "prophet", None)
    assert sel.scores["ets"].mae > 0 and sel.as_dict()["band"] == {"method": "prophet", "calibrated": False}
    frame = serve(s, sel, 7, "day", config)
    future = frame[frame["is_forecast"]]
    assert (future["yhat_upper"] > future["yhat"]).all() and (future["yhat_lower"] < future["yhat"]).all()
    assert select(s.iloc[:27], "day", 14, config).folds == 0  # not even one fold: nothing scored


def _folds(errors: list[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.full(4, 10.0 + e), np.full(4, 10.0)) for e in errors]


def test_the_fallback_score_weighs_recent_folds_more():
    from observatory.forecaster.selection import recent_mae

    lately_bad = _folds([0.0] * 9 + [3.0] * 3)  # the best for 9 folds, then 3 bad ones
    steady = _folds([1.0] * 12)
    assert np.mean([0.0] * 9 + [3.0] * 3) < 1.0  # an unweighted mean still prefers it
    w = 0.5 ** (np.arange(12)[::-1] / 5)  # ages 11 .. 0, half-life 5 folds
    assert recent_mae(lately_bad, 5) == pytest.approx(3.0 * w[-3:].sum() / w.sum())
    assert recent_mae(lately_bad, 5) > 1.2 > recent_mae(steady, 5) == pytest.approx(1.0)
    assert recent_mae([], 5) == float("inf")
