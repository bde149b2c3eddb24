"""The real-series bench's summary (bench/realseries.py): the served model's figures and the
fixed-baseline references, on hand-written rows (no series is loaded)."""

import pytest

from observatory.bench.realseries import references, summary, table


def _row(name, mae, baseline_mae, fallback_mae, halves=(0.95, 0.94), below=0.02, above=0.03):
    ok = {k: v for k, v in baseline_mae.items() if v is not None}
    best = min(ok, key=ok.get)
    return {
        "name": name,
        "granularity": "day",
        "points": 100,
        "horizon": 30,
        "folds": 2,
        "mae": mae,
        "vs_naive_week": mae / baseline_mae["seasonal_naive_week"],
        "vs_ets": mae / baseline_mae["ets"] if baseline_mae["ets"] else None,
        "vs_best": mae / ok[best],
        "best_baseline": best,
        "vs_fallback": mae / fallback_mae,
        "baseline_mae": baseline_mae,
        "coverage": sum(halves) / 2,
        "halves": list(halves),
        "below": below,
        "above": above,
        "held_out": 60,
        "served": {"ets": 2},
    }


ROWS = [
    # served beats every baseline
    _row("a", 8.0, {"seasonal_naive_day": 12.0, "seasonal_naive_week": 10.0, "ets": 11.0}, 10.0),
    # served = ETS, the best
    _row("b", 5.0, {"seasonal_naive_day": 6.0, "seasonal_naive_week": 7.5, "ets": 5.0}, 5.0),
    # served loses to the daily naive; ETS failed on some fold
    _row("c", 9.0, {"seasonal_naive_day": 6.0, "seasonal_naive_week": 12.0, "ets": None}, 6.0),
]


def test_summary_counts_the_served_model_against_the_hindsight_best():
    s = summary(ROWS)
    assert s["series"] == 3
    assert s["median_vs_best"] == pytest.approx(1.0)  # 0.8, 1.0, 1.5
    assert s["at_most_1"] == 2
    assert s["at_most_1_fallback"] == 2  # 0.8, 1.0, 1.5
    assert s["held_out"] == 180


def test_references_score_each_baseline_served_on_every_fold():
    refs = references(ROWS)
    # daily naive: 12/10, 6/5, 6/6 -> 1.2, 1.2, 1.0
    assert refs["seasonal_naive_day"] == {"median": pytest.approx(1.2), "at_most_1": 1, "series": 3}
    # weekly naive: 10/10, 7.5/5, 12/6 -> 1.0, 1.5, 2.0
    assert refs["seasonal_naive_week"] == {"median": pytest.approx(1.5), "at_most_1": 1, "series": 3}
    # ETS: 11/10, 5/5, failed (a loss, infinite)
    assert refs["ets"]["median"] == pytest.approx(1.1)
    assert refs["ets"]["at_most_1"] == 1


def test_table_prints_the_references():
    text = table(ROWS)
    assert "at most 1 on **2 of 3** series" in text
    assert "seasonal_naive_day median 1.200, at most 1 on 1 of 3" in text
    assert "ets median 1.100, at most 1 on 1 of 3" in text
