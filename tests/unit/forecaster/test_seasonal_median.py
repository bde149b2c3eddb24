"""The seasonal median (candidates.py): its values on hand-made series, and its place in the rule's
fallback pool (selection.py): it serves when its recent folds are the best of the pool, not otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory.forecaster.candidates import CandidateError, forecast
from observatory.forecaster.model import ModelConfig
from observatory.forecaster.selection import select

WEEKLY = np.array([100.0, 95, 95, 100, 115, 135, 125])  # Monday .. Sunday


def frame(y, freq: str = "D") -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range("2025-05-05", periods=len(y), freq=freq), "y": np.asarray(y, float)})


def test_daily_future_is_the_median_of_the_same_weekday_over_the_last_six_weeks():
    # 8 weeks; weekday d of week w is 10·d + w, and week 7's Thursday a spike of 1000
    y = np.array([10.0 * d + w for w in range(8) for d in range(7)])
    y[7 * 7 + 3] = 1000
    fc = forecast("seasonal_median", frame(y), 9, "day", ModelConfig())
    # weeks 2..7 per weekday: 10·d + {2, 3, 4, 5, 6, 7} -> 10·d + 4.5; Thursday {32, .., 36, 1000} -> 34.5
    assert fc.future.tolist() == [4.5, 14.5, 24.5, 34.5, 44.5, 54.5, 64.5, 4.5, 14.5]


def test_short_history_uses_the_weeks_it_has_aligned_on_its_end_and_fits_from_the_weeks_before():
    y = np.arange(17.0)  # 2 weeks and 3 days: the next day is the weekday of days 10 and 3
    fc = forecast("seasonal_median", frame(y), 3, "day", ModelConfig())
    assert fc.future.tolist() == [6.5, 7.5, 8.5]
    # first week: the values themselves; then the median of the same weekday in the weeks before
    assert fc.fitted.tolist() == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 3.5, 4.5, 5.5]


def test_hourly_future_is_the_median_of_the_same_hour_of_the_week():
    y = np.tile(np.arange(168.0), 4)  # 4 weeks of an hour-of-week profile 0..167
    y[3 * 168 + 5] = 9999  # the last week's sixth hour: a spike the median ignores
    y[2 * 168 + 6] = -50  # and a dip the week before
    fc = forecast("seasonal_median", frame(y, "h"), 170, "hour", ModelConfig())
    assert fc.future.tolist() == [*range(168), 0, 1]


def test_less_than_a_week_is_no_seasonal_median():
    assert forecast("seasonal_median", frame(np.ones(7)), 3, "day", ModelConfig()).future.tolist() == [1, 1, 1]
    with pytest.raises(CandidateError, match="less than one season"):
        forecast("seasonal_median", frame(np.ones(6)), 3, "day", ModelConfig())


def spiky(days: int, seed: int) -> pd.DataFrame:
    """A weekly shape, a little noise, and a spike of +150 on one day in eight (a campaign, an outage
    replayed): the weekly naive repeats last week's spikes, ETS's season absorbs them."""
    rng = np.random.default_rng(seed)
    dow = np.arange(days) % 7
    y = WEEKLY[dow] + rng.normal(0, 2, days) + 150 * (rng.random(days) < 1 / 8)
    return frame(y)


def test_spiky_weekly_series_is_served_by_the_seasonal_median():
    sel = select(spiky(300, seed=4), "day", 28, ModelConfig(candidates=("ets", "baseline_median", "seasonal_median")))
    assert sel.fallback == sel.chosen == "seasonal_median", sel.reason
    others = ("seasonal_naive_day", "seasonal_naive_week", "ets", "baseline_median")
    assert all(sel.scores["seasonal_median"].mae < sel.scores[o].mae for o in others)


def test_not_in_the_candidates_it_is_neither_scored_nor_served():
    sel = select(spiky(300, seed=4), "day", 28, ModelConfig(candidates=("ets", "baseline_median")))
    assert "seasonal_median" not in sel.scores and sel.chosen != "seasonal_median"


def test_a_trend_leaves_the_seasonal_median_behind_and_another_fallback_serves():
    days = 300
    y = 100 + 2.0 * np.arange(days) + WEEKLY[np.arange(days) % 7] + np.random.default_rng(5).normal(0, 2, days)
    sel = select(frame(y), "day", 28, ModelConfig(candidates=("ets", "baseline_median", "seasonal_median")))
    # six weeks back on a slope of 2 a day: the median lags by about 3.5 weeks · 14 = 49
    assert sel.scores["seasonal_median"].mae > 40
    assert sel.chosen != "seasonal_median" and sel.scores[sel.chosen].mae < 10
