"""The forecaster's logic: fitted models cached per (metric, granularity), refreshed when older than
the metric's refresh interval, written to `<db>.forecasts` for dashboards, and the anomaly gauges.

A refresh compares the candidate models on rolling-origin folds of the metric's history
(selection.py), serves the best one with a band calibrated from its fold residuals, and exports the
choice and its scores (forecaster_model_selected, forecaster_backtest_*, forecaster_band_coverage).

Anomaly gauges (updated every OBS_FORECASTER_EVALUATE_INTERVAL_S, daily models):
  forecaster_metric_actual{metric}          the metric over the trailing 24 hours [now-24h, now)
  forecaster_metric_expected/lower/upper    the daily forecast for the same 24 hours: the forecast of
                                            yesterday and of today, weighted by how much of the
                                            window falls on each day (lower/upper: the calibrated band)
  forecaster_metric_moving_average_7d       mean daily value of the last 7 complete UTC days
  forecaster_payment_failure_ratio          over [now - payment_window, now); 0 when no attempt
  forecaster_payment_failure_ratio_7d       the same over 7 days (baseline)
  forecaster_payment_attempts               attempts in the payment window (alerts need volume)
Gauges of a metric without a model (too little history) are removed, not left stale.

Long because the service is where the models, their cache, the anomaly gauges and the
analytics queries meet; the modelling itself lives in model.py, selection.py and calibrate.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from observatory.forecaster import jobs, reporting
from observatory.forecaster.config import model_config
from observatory.forecaster.model import InsufficientHistory, prophet_settings
from observatory.forecaster.rollups import ConsoleRollups
from observatory.forecaster.scores import export_scores
from observatory.forecaster.selection import Selection
from observatory.forecaster.series import (
    BASE_METRICS,
    GRANULARITIES,
    STEP,
    UnknownMetric,
    as_utc,
    bucket_start,
    data_start,
    load_series,
    source,
    window_total,
)
from observatory.forecaster.worker import WorkerFailed
from observatory.forecaster.workpool import Busy, FitPool
from observatory.metrics import ForecasterMetrics
from observatory.reports.forecast import ChartForecast
from observatory.settings import ForecasterSettings
from observatory.store.analytics import Analytics, utc

log = logging.getLogger("observatory.forecaster")
FORECAST_COLUMNS = (
    "metric",
    "granularity",
    "ds",
    "yhat",
    "yhat_lower",
    "yhat_upper",
    "is_forecast",
    "fitted_at",
    "history_start",
    "history_end",
    "backtest_mape",
    "backtest_mase",
)


def _iso(t: datetime) -> str:
    return utc(t).isoformat().replace("+00:00", "Z")


@dataclass
class FittedModel:
    metric: str
    granularity: str
    frame: pd.DataFrame  # ds (naive UTC), yhat, yhat_lower, yhat_upper, is_forecast
    history_start: datetime
    history_end: datetime  # start of the last observed bucket
    history_points: int
    fitted_at: datetime
    fit_seconds: float
    horizon: int
    backtest: Selection  # the refresh's model comparison: chosen model, scores, calibration
    shape: dict  # Prophet's seasonalities for this history (metadata)

    def points(self, periods: int) -> list[dict]:
        future = self.frame[self.frame["is_forecast"]].head(periods)
        return [
            {
                "ds": _iso(as_utc(r.ds)),
                "yhat": float(r.yhat),
                "yhat_lower": float(r.yhat_lower),
                "yhat_upper": float(r.yhat_upper),
            }
            for r in future.itertuples()
        ]

    def metadata(self, settings: ForecasterSettings) -> dict:
        return {
            "history": {
                "start": _iso(self.history_start),
                "end": _iso(self.history_end + STEP[self.granularity]),
                "points": self.history_points,
            },
            "fitted_at": _iso(self.fitted_at),
            "fit_seconds": round(self.fit_seconds, 4),
            "horizon": self.horizon,
            "backtest": self.backtest.as_dict() if self.backtest.folds else None,
            "model": {
                "kind": self.backtest.chosen,
                **self.seasonalities(),
                "seasonality_mode": settings.seasonality_mode,
                "prophet_trend": settings.prophet_trend,  # over the horizon: linear | flat
                "interval_width": settings.interval_width,
                "calibrated": self.backtest.calibration is not None,
                "coverage": self.backtest.calibration.coverage if self.backtest.calibration else None,
            },
            "refresh_s": settings.refresh_s(self.metric),
        }

    def seasonalities(self) -> dict:
        """What the served model knows: every candidate has the weekly (and, hourly, the daily) cycle;
        yearly seasonality, holidays and weekday/weekend daily profiles are Prophet's (and the ensemble's)."""
        prophet = self.backtest.chosen in ("prophet", "ensemble")
        return {
            "weekly_seasonality": True,
            "daily_seasonality": self.granularity == "hour",
            "daily_profiles": self.shape["daily_profiles"] if prophet else None,
            "yearly_seasonality": prophet and self.shape["yearly_seasonality"],
            "holidays": self.shape["holidays"] if prophet else [],
        }

    def row(self, day: datetime) -> pd.Series | None:
        match = self.frame[self.frame["ds"] == pd.Timestamp(utc(day).replace(tzinfo=None))]
        return None if match.empty else match.iloc[0]


class ForecastService:
    def __init__(
        self,
        settings: ForecasterSettings,
        analytics: Analytics,
        metrics: ForecasterMetrics,
        event_names: Set[str] = frozenset(),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.analytics = analytics
        self.metrics = metrics
        self.event_names = set(event_names)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.models: dict[tuple[str, str], FittedModel] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.config = model_config(settings)
        self.store_ok = False
        self.rollups = ConsoleRollups(analytics)  # the console's day rollups (API and scheduler share them)
        self.pool = FitPool(
            settings.fit_workers,
            settings.fit_waiting,
            timeout_s=settings.fit_timeout_s,
            idle_s=settings.fit_worker_idle_s,
            on_failure=self._worker_failed,
        )
        metrics.worker_peak_rss.set_function(self.pool.peak_rss_bytes)

    def _worker_failed(self, exc: WorkerFailed) -> None:
        self.metrics.worker_failures.labels(exc.reason).inc()
        log.error("fit worker failed", extra={"reason": exc.reason, "error": str(exc)})

    def compute(self, fn, *args, **kwargs):
        """Run a job (jobs.py, churn.model) in a fit worker, blocking (from a thread)."""
        return self.pool.call(fn, *args, **kwargs)

    # -- catalogue -------------------------------------------------------------------------------
    def check_metric(self, metric: str) -> None:
        """Raises UnknownMetric unless the metric exists: a base metric, or events:<name> where the
        name is in the event schema or present in the store."""
        src = source(metric)
        if metric in BASE_METRICS:
            return
        name = dict(src.extra)["event_name"]
        if name in self.event_names:
            return
        rows = self.analytics.client.query(
            f"SELECT 1 FROM {self.analytics.database}.events WHERE event_name = {{n:String}} LIMIT 1",
            parameters={"n": name},
        ).result_rows
        if not rows:
            raise UnknownMetric(metric)

    def min_points(self, granularity: str) -> int:
        return self.settings.min_history_days if granularity == "day" else self.settings.min_history_hours

    def max_periods(self, granularity: str) -> int:
        return self.settings.max_periods_day if granularity == "day" else self.settings.max_periods_hour

    def lookback(self, granularity: str) -> int:
        """The training window plus the selection folds before it (each fold trains on a full window)."""
        window = self.settings.history_days if granularity == "day" else self.settings.history_hours
        folds = max(self.config.selection_folds, self.config.calibration_folds)
        return window + folds * self.config.pick(self.config.selection_horizon, granularity)

    # -- fitting ---------------------------------------------------------------------------------
    def history(self, metric: str, granularity: str, now: datetime | None = None, extra: int = 0) -> pd.DataFrame:
        """The complete buckets a refresh needs (plus `extra` before them, e.g. a backtest's folds)."""
        return load_series(
            self.analytics,
            metric,
            granularity,
            now or self.clock(),
            self.lookback(granularity) + extra,
            run=self.rollups.business.answer,
        )

    def fit(self, metric: str, granularity: str, now: datetime | None = None) -> FittedModel:
        """Fit now (blocking): the history is read here, the models are fitted in a fit worker.
        Raises InsufficientHistory, WorkerFailed."""
        now = now or self.clock()
        started = time.perf_counter()
        try:
            series = self.history(metric, granularity, now)
            needed = self.min_points(granularity)
            if len(series) < needed:
                raise InsufficientHistory(needed, len(series), granularity)
            horizon = self.max_periods(granularity)
            selection, frame = self.compute(jobs.refresh, series, granularity, needed, horizon, self.config)
        except InsufficientHistory:
            self.metrics.model_fits.labels(metric, granularity, "insufficient_history").inc()
            raise
        except Exception:
            self.metrics.model_fits.labels(metric, granularity, "error").inc()
            raise
        elapsed = time.perf_counter() - started
        window = frame[~frame["is_forecast"]]
        model = FittedModel(
            metric,
            granularity,
            frame,
            as_utc(window["ds"].iloc[0]),
            as_utc(window["ds"].iloc[-1]),
            len(window),
            now,
            elapsed,
            horizon,
            selection,
            prophet_settings(window, granularity, self.config),
        )
        self.metrics.model_fits.labels(metric, granularity, "ok").inc()
        self.metrics.fit_duration.observe(elapsed)
        self.metrics.model_fitted.labels(metric, granularity).set(now.timestamp())
        export_scores(self.metrics, model.metric, model.granularity, model.backtest, self.config.candidates)
        return model

    # -- what a report draws (observatory.reports.forecast.ForecastSource) --------------------------
    def report_history(self, metric: str, now: datetime, days: int) -> pd.DataFrame:
        return reporting.report_history(self, metric, now, days)

    def report_forecast(self, metric: str, now: datetime, days: int) -> ChartForecast:
        return reporting.report_forecast(self, metric, now, days)

    def draw(self, chart, *args) -> bytes:
        return self.compute(chart, *args)  # matplotlib loads in the fit worker, not here

    def stale(self, model: FittedModel, now: datetime) -> bool:
        age = (now - model.fitted_at).total_seconds()
        return age >= self.settings.refresh_s(model.metric) or age < 0

    async def refresh(
        self, metric: str, granularity: str = "day", *, store: bool = True, wait: bool = True
    ) -> FittedModel:
        """Fit (in the fit pool), cache, and write the forecast to ClickHouse. `wait=False`: raise
        workpool.Busy rather than queue when the pool is saturated (HTTP callers)."""
        key = (metric, granularity)
        lock = self._locks.setdefault(key, asyncio.Lock())
        if not wait and lock.locked():
            raise Busy(self.pool.retry_after_s)
        async with lock:
            now = self.clock()
            model = await self.pool.here(self.fit, metric, granularity, now, wait=wait)
            self.models[key] = model
            if store:
                await asyncio.to_thread(self.store_forecast, model)
            log.info(
                "model fitted",
                extra={
                    "metric": metric,
                    "granularity": granularity,
                    "points": model.history_points,
                    "seconds": round(model.fit_seconds, 3),
                    "model": model.backtest.chosen,
                    "mape": model.backtest.mape,
                    "relative_mae": model.backtest.score.relative_mae,
                },
            )
            return model

    async def forecast(self, metric: str, granularity: str, *, wait: bool = True) -> FittedModel:
        """The cached model if fresh, else a new fit. Raises UnknownMetric, InsufficientHistory."""
        await asyncio.to_thread(self.check_metric, metric)
        model = self.models.get((metric, granularity))
        if model is not None and not self.stale(model, self.clock()):
            return model
        return await self.refresh(metric, granularity, wait=wait)

    def store_forecast(self, model: FittedModel) -> None:
        bt = model.backtest
        rows = [
            [
                model.metric,
                model.granularity,
                r.ds.to_pydatetime().replace(tzinfo=UTC),
                float(r.yhat),
                float(r.yhat_lower),
                float(r.yhat_upper),
                int(bool(r.is_forecast)),
                model.fitted_at,
                model.history_start,
                model.history_end,
                bt.mape if bt else None,
                bt.mase if bt else None,
            ]
            for r in model.frame.itertuples()
        ]
        self.analytics.client.insert(f"{self.analytics.database}.forecasts", rows, column_names=FORECAST_COLUMNS)

    # -- anomaly gauges --------------------------------------------------------------------------
    def expected(self, model: FittedModel, now: datetime) -> tuple[float, float, float] | None:
        """Forecast for the trailing 24 hours: today's and yesterday's daily forecasts weighted by
        their share of [now - 24h, now)."""
        today = bucket_start(now, "day")
        yesterday = today - timedelta(days=1)
        w_today = (utc(now) - today).total_seconds() / 86400
        parts = []
        for day, weight in ((yesterday, 1 - w_today), (today, w_today)):
            if weight <= 0:
                continue
            row = model.row(day)
            if row is None:
                return None
            parts.append((weight, row))
        yhat, lower, upper = (sum(w * float(r[col]) for w, r in parts) for col in ("yhat", "yhat_lower", "yhat_upper"))
        return yhat, lower, upper

    def moving_average(self, metric: str, now: datetime) -> float:
        """Mean daily value over the 7 complete UTC days before today (missing days count as 0, days
        before the first stored event do not count)."""
        first = data_start(self.analytics, bucket_start(now, "day") - timedelta(days=7))
        series = load_series(self.analytics, metric, "day", now, 7, first=first)
        return float(series["y"].mean()) if len(series) else 0.0

    def evaluate(self, now: datetime | None = None) -> dict:
        """Update the anomaly gauges (blocking). Returns what was set, for logs and tests."""
        now = now or self.clock()
        out: dict = {"metrics": {}}
        for metric in self.settings.metric_list():
            values = {
                "actual": window_total(self.analytics, metric, now - timedelta(hours=24), now),
                "moving_average_7d": self.moving_average(metric, now),
            }
            self.metrics.actual.labels(metric).set(values["actual"])
            self.metrics.moving_average.labels(metric).set(values["moving_average_7d"])
            model = self.models.get((metric, "day"))
            band = self.expected(model, now) if model else None
            gauges = (self.metrics.expected, self.metrics.lower, self.metrics.upper)
            if band is None:
                for g in gauges:
                    try:
                        g.remove(metric)
                    except KeyError:
                        pass
            else:
                for g, v in zip(gauges, band):
                    g.labels(metric).set(v)
                values.update(expected=band[0], lower=band[1], upper=band[2])
            out["metrics"][metric] = values
        window = self.analytics.run(
            "kpi_summary", start=now - timedelta(seconds=self.settings.payment_window_s), end=now
        ).dicts()[0]
        week = self.analytics.run("kpi_summary", start=now - timedelta(days=7), end=now).dicts()[0]
        self.metrics.payment_failure_ratio.set(window["payment_failure_rate"])
        self.metrics.payment_attempts.set(window["payment_attempts"])
        self.metrics.payment_failure_ratio_7d.set(week["payment_failure_rate"])
        out["payment"] = {
            "ratio": window["payment_failure_rate"],
            "attempts": window["payment_attempts"],
            "ratio_7d": week["payment_failure_rate"],
        }
        self.metrics.evaluated.set(time.time())
        return out

    def ping(self) -> bool:
        try:
            self.analytics.client.query("SELECT 1")
            self.store_ok = True
        except Exception:  # noqa: BLE001 - readiness reports it
            self.store_ok = False
        self.metrics.ready.set(1 if self.store_ok else 0)
        return self.store_ok


__all__ = ["ForecastService", "FittedModel", "GRANULARITIES", "InsufficientHistory", "UnknownMetric"]
