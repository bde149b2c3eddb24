"""The jobs a fit worker runs (worker.py): pure functions of plain data, importable by name in the
worker process. The serving process only references them; Prophet, statsmodels and scikit-learn
are imported in the worker when a job first needs them."""

from __future__ import annotations

import pandas as pd

from observatory.forecaster.model import ModelConfig
from observatory.forecaster.selection import Selection, select, serve


def refresh(
    series: pd.DataFrame, granularity: str, min_train: int, horizon: int, config: ModelConfig
) -> tuple[Selection, pd.DataFrame]:
    """A model refresh's computation: the candidates compared on the history's folds (selection.py),
    then the served model's forecast frame over the history and `horizon` buckets ahead."""
    selection = select(series, granularity, min_train, config)
    return selection, serve(series, selection, horizon, granularity, config)
