"""A forecast's recent past for the console's chart: the last N complete buckets of the metric's
actuals beside the served model's in-sample fit and band, and which of them lie outside the band
(anomalies). Read from the store at request time, so buckets completed after the model's fit are
included (without a fit: `yhat` null, never an anomaly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from observatory.forecaster.series import as_utc

if TYPE_CHECKING:
    from observatory.forecaster.service import FittedModel, ForecastService


def _iso(ts) -> str:
    return as_utc(ts).isoformat().replace("+00:00", "Z")


def recent_history(service: ForecastService, model: FittedModel, n: int) -> list[dict]:
    series = service.history(model.metric, model.granularity).tail(n)
    fit = model.frame[~model.frame["is_forecast"]].set_index("ds")
    out = []
    for row in series.itertuples():
        ds = pd.Timestamp(row.ds)
        y = float(row.y)
        if ds in fit.index:
            f = fit.loc[ds]
            lower, upper = float(f["yhat_lower"]), float(f["yhat_upper"])
            point = {"ds": _iso(ds), "y": y, "yhat": float(f["yhat"]), "yhat_lower": lower, "yhat_upper": upper}
            point["anomaly"] = not lower <= y <= upper
        else:
            point = {"ds": _iso(ds), "y": y, "yhat": None, "yhat_lower": None, "yhat_upper": None, "anomaly": False}
        out.append(point)
    return out
