"""`observatory forecast backtest --csv FILE`: the forecaster's backtest on any series from a file.

The file has a header with the columns ds (timestamps: ISO 8601; with an offset they are converted
to UTC, without one they are taken as UTC) and y (numbers), one row per hour or per day, sorted or
not, no duplicates and no missing buckets (a missing bucket is an error, not a silent 0: say what it
is in the file). The series is then backtested exactly like a metric of the store (evaluation.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from observatory.forecaster.evaluation import backtest
from observatory.forecaster.model import FREQ, ModelConfig


class CsvError(ValueError):
    pass


def read_series(path: Path, granularity: str) -> pd.DataFrame:
    """Columns ds (naive UTC) and y, one row per bucket. Raises CsvError saying what is wrong where."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CsvError(f"{path}: cannot read it as CSV: {exc}") from None
    missing = [c for c in ("ds", "y") if c not in raw.columns]
    if missing:
        raise CsvError(f"{path}: no column {', '.join(missing)} (header must name ds and y; found {list(raw.columns)})")
    if raw.empty:
        raise CsvError(f"{path}: no rows")
    ds = pd.to_datetime(raw["ds"].str.strip(), errors="coerce", utc=True, format="mixed")
    y = pd.to_numeric(raw["y"].str.strip(), errors="coerce")
    for name, bad in (("ds", ds.isna()), ("y", y.isna() | y.abs().eq(float("inf")))):
        if bad.any():
            i = int(bad.idxmax())
            raise CsvError(
                f"{path}: line {i + 2}: {name} {raw[name].iloc[i]!r} is not a "
                f"{'timestamp' if name == 'ds' else 'finite number'} ({int(bad.sum())} such row(s))"
            )
    frame = pd.DataFrame(
        {"ds": ds.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]"), "y": y.astype(float)}
    )
    frame = frame.sort_values("ds", kind="stable").reset_index(drop=True)
    floor = frame["ds"].dt.floor(FREQ[granularity])
    if (floor != frame["ds"]).any():
        i = int((floor != frame["ds"]).idxmax())
        raise CsvError(
            f"{path}: {frame['ds'].iloc[i]} is not the start of a{'n hour' if granularity == 'hour' else ' day'}"
            f" (--granularity {granularity})"
        )
    dup = frame["ds"].duplicated()
    if dup.any():
        raise CsvError(f"{path}: {frame['ds'][dup].iloc[0]} appears more than once ({int(dup.sum())} duplicate(s))")
    full = pd.date_range(frame["ds"].iloc[0], frame["ds"].iloc[-1], freq=FREQ[granularity])
    if len(full) != len(frame):
        gaps = full.difference(pd.DatetimeIndex(frame["ds"]))
        raise CsvError(
            f"{path}: {len(gaps)} missing {granularity}(s), the first {gaps[0]} (fill them in the file, "
            "e.g. with 0 for a count)"
        )
    return frame


def backtest_csv(
    path: Path,
    granularity: str,
    horizon: int,
    folds: int,
    min_train: int,
    config: ModelConfig,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Raises CsvError, InsufficientHistory."""
    series = read_series(path, granularity)
    result = backtest(series, granularity, horizon, folds, min_train, config, progress).as_dict()
    first, last = (series["ds"].iloc[i].strftime("%Y-%m-%dT%H:%M:%SZ") for i in (0, -1))
    return {"file": str(path), "series": {"start": first, "end": last, "points": len(series)}, **result}
