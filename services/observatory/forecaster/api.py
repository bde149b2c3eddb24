"""HTTP routes of the forecaster (mounted standalone and in all-in-one).

GET  /v1/forecast                     metrics and cached models
GET  /v1/forecast/{metric}            ?periods=30&granularity=day|hour -> points + model metadata
GET  /v1/backtest/{metric}            ?granularity=day&horizon=30&folds=3 -> MAPE, MASE vs seasonal naive
GET  /v1/analytics                    the analytics queries and their parameters
GET  /v1/analytics/{query}            ?start=&end=&granularity=&limit=... -> columns and rows (JSON)
POST /v1/reports/{kind}               build and send the daily|weekly|monthly report now (?to=a@b,c@d)
GET  /v1/churn                        newest churn scoring: evaluation, churn risk per segment
GET  /v1/churn/users                  ?limit=100 -> the users most at risk at the newest cutoff

Errors: {"error": code, "message": text, ...}: 404 unknown_metric / unknown_query / unknown_report,
422 invalid_parameter / insufficient_history (with `needed` and `have`), 503 store_unavailable,
502 report_not_sent.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Query, Request

from observatory.forecaster.model import InsufficientHistory, backtest
from observatory.forecaster.series import BASE_METRICS, GRANULARITIES, UnknownMetric
from observatory.forecaster.service import ForecastService
from observatory.responses import JSONResponse
from observatory.settings import ReportSettings
from observatory.store.analytics import ParameterError, UnknownQuery, get_query, parse_params, queries

log = logging.getLogger("observatory.forecaster")


def _error(status: int, code: str, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def _invalid(parameter: str, message: str) -> JSONResponse:
    return _error(422, "invalid_parameter", f"{parameter}: {message}", parameter=parameter)


def _insufficient(metric: str, exc: InsufficientHistory) -> JSONResponse:
    return _error(422, "insufficient_history",
                  f"{metric}: {exc.have} complete {exc.granularity}s of history, at least {exc.needed} needed",
                  needed=exc.needed, have=exc.have, granularity=exc.granularity)


def _unknown_metric(metric: str) -> JSONResponse:
    return _error(404, "unknown_metric", f"unknown metric {metric!r}",
                  metrics=[*BASE_METRICS, "events:<event_name>"])


def _store_error(exc: Exception) -> JSONResponse:
    log.warning("store query failed: %s", exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return _error(503, "store_unavailable", f"ClickHouse query failed: {first[:300]}")


def _int(name: str, raw: str | None, default: int, low: int, high: int) -> int | JSONResponse:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        return _invalid(name, f"{raw!r} is not an integer")
    if not low <= value <= high:
        return _invalid(name, f"must be between {low} and {high}, got {value}")
    return value


def _granularity(raw: str | None) -> str | JSONResponse:
    g = (raw or "day").strip().lower()
    return g if g in GRANULARITIES else _invalid("granularity", f"{raw!r} is not one of {', '.join(GRANULARITIES)}")


def forecaster_router(service: ForecastService, reports: ReportSettings | None = None, churn=None) -> APIRouter:
    router = APIRouter(tags=["forecaster"])
    s = service.settings

    @router.get("/v1/forecast", summary="Forecastable metrics and the models in cache")
    async def list_metrics() -> dict:
        return {"metrics": [*BASE_METRICS, "events:<event_name>"],
                "event_names": sorted(service.event_names),
                "scheduled": s.metric_list(),
                "models": [{"metric": m.metric, "granularity": m.granularity, "fitted_at": m.fitted_at.isoformat(),
                            "history_points": m.history_points} for m in service.models.values()]}

    @router.get("/v1/forecast/{metric}", summary="Forecast with a band, plus model metadata",
                responses={404: {"description": "unknown metric"},
                           422: {"description": "bad parameter or too little history"}})
    async def get_forecast(metric: str,
                           periods: str | None = Query(None, description="buckets ahead (default 30)"),
                           granularity: str | None = Query(None, description="day (default) or hour")):
        g = _granularity(granularity)
        if isinstance(g, JSONResponse):
            return g
        n = _int("periods", periods, 30 if g == "day" else 24, 1, service.max_periods(g))
        if isinstance(n, JSONResponse):
            return n
        try:
            model = await service.forecast(metric, g)
        except UnknownMetric:
            return _unknown_metric(metric)
        except InsufficientHistory as exc:
            return _insufficient(metric, exc)
        except Exception as exc:  # noqa: BLE001
            return _store_error(exc)
        return {"metric": metric, "granularity": g, "periods": n, "points": model.points(n),
                "model": model.metadata(s)}

    @router.get("/v1/backtest/{metric}", summary="Rolling-origin backtest against seasonal naive",
                responses={404: {}, 422: {}})
    async def get_backtest(metric: str, granularity: str | None = Query(None), horizon: str | None = Query(None),
                           folds: str | None = Query(None)):
        g = _granularity(granularity)
        if isinstance(g, JSONResponse):
            return g
        h = _int("horizon", horizon, 30 if g == "day" else 24, 1, service.max_periods(g))
        if isinstance(h, JSONResponse):
            return h
        f = _int("folds", folds, 3, 1, 20)
        if isinstance(f, JSONResponse):
            return f
        try:
            await asyncio.to_thread(service.check_metric, metric)
            series = await asyncio.to_thread(service.history, metric, g)
            result = await asyncio.to_thread(backtest, series, g, h, f, service.min_points(g), service.config)
        except UnknownMetric:
            return _unknown_metric(metric)
        except InsufficientHistory as exc:
            return _insufficient(metric, exc)
        except Exception as exc:  # noqa: BLE001
            return _store_error(exc)
        return {"metric": metric, **result.as_dict()}

    @router.get("/v1/analytics", summary="Analytics queries and their parameters")
    async def list_queries() -> dict:
        return {"queries": [q.info() for q in queries().values()]}

    @router.get("/v1/analytics/{query}", summary="Run an analytics query (store/queries/<query>.sql)",
                responses={404: {}, 422: {}, 503: {}})
    async def run_query(query: str, request: Request):
        try:
            q = get_query(query)
        except UnknownQuery:
            return _error(404, "unknown_query", f"unknown query {query!r}", queries=list(queries()))
        try:
            params = parse_params(q, dict(request.query_params), now=service.clock())
        except ParameterError as exc:
            return _invalid(exc.parameter, exc.message)
        try:
            result = await asyncio.to_thread(service.analytics.run, query, **params)
        except Exception as exc:  # noqa: BLE001
            return _store_error(exc)
        return result.json()

    @router.get("/v1/churn", summary="Churn risk per segment (newest monthly scoring) and the model's evaluation",
                responses={404: {}, 503: {}})
    async def get_churn():
        if churn is None:
            return _error(404, "churn_disabled", "churn scoring is off (OBS_FORECASTER_CHURN=false)")
        try:
            rows = await asyncio.to_thread(lambda: service.analytics.run("churn_segments", end=service.clock()).json())
        except Exception as exc:  # noqa: BLE001
            return _store_error(exc)
        if not rows["rows"]:
            return _error(404, "no_churn_scores", "no churn scores yet: the forecaster scores monthly once it has "
                          f"{churn.min_users} active users at two consecutive month starts")
        segments: dict[str, list] = {}
        for r in rows["rows"]:
            segments.setdefault(r["segment"], []).append(
                {k: r[k] for k in ("value", "users", "mean_probability", "at_risk")})
        return {"cutoff": rows["rows"][0]["cutoff"], "segments": segments,
                "model": churn.last.as_dict() if churn.last else None}

    @router.get("/v1/churn/users", summary="Users most at risk of churning at the newest cutoff",
                responses={404: {}, 422: {}, 503: {}})
    async def get_churn_users(limit: str | None = Query(None, description="rows (default 100, at most 10000)")):
        if churn is None:
            return _error(404, "churn_disabled", "churn scoring is off (OBS_FORECASTER_CHURN=false)")
        n = _int("limit", limit, 100, 1, 10_000)
        if isinstance(n, JSONResponse):
            return n
        db = service.analytics.database
        sql = (f"SELECT cutoff, user_id, probability, country, device_type, source, plan, recency_days, frequency, "
               f"monetary, sessions, support_tickets, refunds, payment_failures FROM {db}.churn_scores FINAL "
               f"WHERE cutoff = (SELECT max(cutoff) FROM {db}.churn_scores) "
               "ORDER BY probability DESC, user_id LIMIT {n:UInt32}")
        try:
            result = await asyncio.to_thread(service.analytics.client.query, sql, parameters={"n": n})
        except Exception as exc:  # noqa: BLE001
            return _store_error(exc)
        users = [dict(zip(result.column_names, row)) for row in result.result_rows]
        for u in users:
            u["cutoff"] = u["cutoff"].isoformat()
        return {"users": users}

    @router.post("/v1/reports/{kind}", summary="Send the daily or weekly KPI report now",
                 responses={404: {}, 422: {}, 502: {}})
    async def post_report(kind: str, to: str | None = Query(None, description="comma-separated recipients")):
        from observatory.reports.kpis import KINDS
        from observatory.reports.mail import ReportError, send_report
        if kind not in KINDS:
            return _error(404, "unknown_report", f"unknown report {kind!r}", reports=list(KINDS))
        if reports is None:
            return _error(422, "reports_not_configured", "this process has no report settings")
        recipients = [r.strip() for r in to.split(",") if r.strip()] if to else None
        try:
            report = await asyncio.to_thread(send_report, kind, service.analytics, reports, service.clock(),
                                             service, recipients)
        except ReportError as exc:
            service.metrics.report_failures.labels(kind).inc()
            return _error(exc.status, "report_not_sent", str(exc))
        service.metrics.reports_sent.labels(kind).inc()
        return {"sent": True, "kind": kind, "period": report.period.label,
                "recipients": recipients or reports.recipient_list()}

    return router
