"""What a report needs from a forecaster, stated here as an interface so that reports/ does not
import the forecaster (the forecaster imports reports/ to send them on schedule and on request).

The forecaster passes in an object with these methods: its ForecastService has them
(observatory/forecaster/reporting.py holds their bodies)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ChartForecast:
    """The forecast a report draws. `future`: the days ahead (columns ds, yhat, yhat_lower,
    yhat_upper), None when there is no forecast; `note`: one sentence on what was forecast, or why
    not; `frame`: the model's whole frame (fitted past and days ahead, column is_forecast)."""

    future: pd.DataFrame | None
    note: str
    frame: pd.DataFrame | None = None


class ForecastSource(Protocol):
    def report_history(self, metric: str, now: datetime, days: int) -> pd.DataFrame:
        """Complete days of `metric` before the day holding `now`, at most `days` of them (ds, y)."""
        ...

    def report_forecast(self, metric: str, now: datetime, days: int) -> ChartForecast:
        """The daily forecast of `metric` for the next `days` days (fitted first if stale)."""
        ...

    def draw(self, chart: Callable[..., bytes], *args: Any) -> bytes:
        """chart(*args): a chart of reports/chart.py as PNG bytes. The forecaster draws in its fit
        worker, so matplotlib stays out of its serving process."""
        ...
