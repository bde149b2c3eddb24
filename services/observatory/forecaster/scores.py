"""The served model's name and backtest scores as Prometheus gauges (forecaster_model_selected,
forecaster_backtest_mape/_mase/_relative_mae, forecaster_band_coverage)."""

from __future__ import annotations

from observatory.forecaster.selection import Selection
from observatory.metrics import ForecasterMetrics


def export_scores(
    m: ForecasterMetrics, metric: str, granularity: str, sel: Selection, candidates: tuple[str, ...]
) -> None:
    """A score that does not exist for this fit (too little history, no non-zero actual, too few folds
    for a held-out coverage) is removed, not left from an older fit."""
    labels = (metric, granularity)
    for name in candidates:
        m.model_selected.labels(*labels, name).set(1 if name == sel.chosen else 0)
    score = sel.score if sel.folds else None
    cal = sel.calibration
    for gauge, value in (
        (m.backtest_mape, score.mape if score else None),
        (m.backtest_mase, score.mase if score else None),
        (m.backtest_relative_mae, score.relative_mae if score else None),
        (m.band_coverage, cal.coverage if cal else None),
    ):
        if value is None:
            try:
                gauge.remove(*labels)
            except KeyError:
                pass
        else:
            gauge.labels(*labels).set(value)
