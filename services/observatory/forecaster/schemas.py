"""Response models of the forecaster's HTTP API (the OpenAPI contract; routes in forecaster/api.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ModelInfo(BaseModel):
    metric: str
    granularity: str
    fitted_at: str
    history_points: int


class MetricList(BaseModel):
    metrics: list[str]
    event_names: list[str]
    scheduled: list[str]
    models: list[ModelInfo]


class Point(BaseModel):
    ds: str
    yhat: float
    yhat_lower: float
    yhat_upper: float


class HistoryPoint(BaseModel):
    ds: str
    y: float
    yhat: float | None
    yhat_lower: float | None
    yhat_upper: float | None
    anomaly: bool


class Forecast(BaseModel):
    metric: str
    granularity: str
    periods: int
    points: list[Point]
    model: dict[str, Any]
    history_days: int  # complete buckets (days, or hours with granularity=hour) the model was fitted on
    min_history_days: int  # buckets needed before any forecast
    history: list[HistoryPoint]  # the last `?history=` buckets
    anomalies: list[HistoryPoint]  # those of `history` outside the band
    message: str | None = None


class Backtest(_Open):
    """MAPE/MASE of the model and of the seasonal-naive baseline (null when undefined)."""

    metric: str
    granularity: str
    horizon: int
    folds: int
    mape: float | None
    mase: float | None


class QueryInfo(BaseModel):
    name: str
    parameters: list[str]
    description: str


class QueryList(BaseModel):
    queries: list[QueryInfo]


class QueryResult(BaseModel):
    query: str
    parameters: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]


class ReportSent(BaseModel):
    sent: bool
    kind: str
    period: str
    recipients: list[str]
