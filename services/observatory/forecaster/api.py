"""HTTP routes of the forecaster (the PRIVATE listener, standalone and in all-in-one). Every route
needs a read key (observatory.api_keys); reports need the admin scope.

GET  /v1/forecast                     metrics and cached models
GET  /v1/forecast/{metric}            ?periods=30&granularity=day|hour&history=0 -> points + model metadata
GET  /v1/backtest/{metric}            ?granularity=day&horizon=30&folds=5 -> MAPE, MASE vs seasonal naive
GET  /v1/analytics                    the analytics queries and their parameters
GET  /v1/analytics/<query>            one route per query (store/queries/<query>.sql), its own parameters
POST /v1/reports/{kind}               send the daily|weekly|monthly report now to OBS_REPORT_RECIPIENTS (?to= narrows)
GET  /v1/churn                        newest churn scoring: evaluation, churn risk per segment
GET  /v1/churn/users                  ?limit=100 -> the users most at risk at the newest cutoff

Errors: {"error": code, "message": text, ...}: 401/403 (keys), 404 unknown_metric / unknown_report,
422 invalid_parameter / insufficient_history (with `needed` and `have`), 429 rate_limited and
503 busy (Retry-After), 503 store_unavailable, 502 report_not_sent.

Long because it is the one router of the read API: every route's typed parameters, response
model and documented errors (what the OpenAPI document and Schemathesis check).
"""

import asyncio
import inspect
import logging
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from observatory.api_keys import AUTH_ERRORS, Principal, require_scope
from observatory.errors import ApiError, error_responses
from observatory.forecaster import schemas
from observatory.forecaster.evaluation import backtest
from observatory.forecaster.history import recent_history
from observatory.forecaster.model import InsufficientHistory
from observatory.forecaster.series import BASE_METRICS, UnknownMetric
from observatory.forecaster.service import ForecastService
from observatory.forecaster.worker import WorkerFailed
from observatory.forecaster.workpool import Busy
from observatory.ingest.auth import RateLimiter
from observatory.settings import ReportSettings
from observatory.store.analytics import GRANULARITIES, ParameterError, parse_params, queries
from observatory.store.analytics import Query as SqlQuery
from observatory.store.business import BusinessRollup

log = logging.getLogger("observatory.forecaster")
Granularity = Literal["day", "hour"]
METRIC_DOC = "revenue, orders, dau, signups or events:<event_name>"


def _invalid(parameter: str, message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", f"{parameter}: {message}", parameter=parameter)


def _insufficient(metric: str, exc: InsufficientHistory) -> ApiError:
    return ApiError(
        422,
        "insufficient_history",
        f"{metric}: {exc.have} complete {exc.granularity}s of history, at least {exc.needed} needed",
        needed=exc.needed,
        have=exc.have,
        granularity=exc.granularity,
    )


def _unknown_metric(metric: str) -> ApiError:
    return ApiError(404, "unknown_metric", f"unknown metric {metric!r}", metrics=[*BASE_METRICS, "events:<event_name>"])


def _store_error(exc: Exception) -> ApiError:
    log.warning("store query failed: %s", exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ApiError(503, "store_unavailable", f"ClickHouse query failed: {first[:300]}", headers={"Retry-After": "30"})


def _busy(exc: Busy) -> ApiError:
    return ApiError(503, "busy", str(exc), headers={"Retry-After": str(exc.retry_after_s)})


def _metric_error(metric: str, exc: Exception) -> ApiError:
    """The answer to a forecast or backtest of `metric` that failed: 404 unknown metric, 422 too
    little history, 503 busy fit pool or a fit worker lost, else 503 store unavailable."""
    if isinstance(exc, UnknownMetric):
        return _unknown_metric(metric)
    if isinstance(exc, InsufficientHistory):
        return _insufficient(metric, exc)
    if isinstance(exc, Busy):
        return _busy(exc)
    if isinstance(exc, WorkerFailed):
        log.error("fit worker failed for %s: %s", metric, exc)
        return ApiError(503, "fit_failed", f"{exc}; retry later", headers={"Retry-After": "30"})
    return _store_error(exc)


def _limited(limiter: RateLimiter, principal: Principal, what: str) -> None:
    wait = limiter.take(principal.name, 1)
    if wait:
        raise ApiError(
            429,
            "rate_limited",
            f"{what} rate limit reached for key {principal.name!r}",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _periods(name: str, value: int | None, g: str, service: ForecastService) -> int:
    if value is None:
        return 30 if g == "day" else 24
    if value > service.max_periods(g):
        raise _invalid(name, f"at most {service.max_periods(g)} for granularity {g}, got {value}")
    return value


def forecaster_router(service: ForecastService, reports: ReportSettings | None = None, churn=None) -> APIRouter:
    router = APIRouter(tags=["forecaster"], responses=AUTH_ERRORS)
    s = service.settings
    read, admin = require_scope("read"), require_scope("admin")
    most = max(s.max_periods_day, s.max_periods_hour)
    backtests = RateLimiter(s.backtests_per_minute / 60, max(1.0, s.backtests_per_minute))
    per_hour = reports.per_hour if reports else 10.0
    sends = RateLimiter(per_hour / 3600, max(1.0, min(per_hour, 3.0)))

    @router.get(
        "/v1/forecast",
        summary="Forecastable metrics and the models in cache",
        response_model=schemas.MetricList,
        dependencies=[read],
    )
    async def list_metrics() -> dict:
        return {
            "metrics": [*BASE_METRICS, "events:<event_name>"],
            "event_names": sorted(service.event_names),
            "scheduled": s.metric_list(),
            "models": [
                {
                    "metric": m.metric,
                    "granularity": m.granularity,
                    "fitted_at": m.fitted_at.isoformat(),
                    "history_points": m.history_points,
                }
                for m in service.models.values()
            ],
        }

    @router.get(
        "/v1/forecast/{metric}",
        summary="Forecast with a band, plus model metadata",
        response_model=schemas.Forecast,
        dependencies=[read],
        responses=error_responses(
            404,
            422,
            503,
            e404="unknown metric",
            e422="bad parameter or too little history",
            e503="the fit pool is busy, or the store is unavailable",
        ),
    )
    async def get_forecast(
        metric: str,
        periods: Annotated[
            int | None, Query(ge=1, le=most, description="buckets ahead (default 30 days or 24 hours)")
        ] = None,
        granularity: Annotated[Granularity, Query(description="day or hour")] = "day",
        history: Annotated[
            int, Query(ge=0, le=1095, description="also the last N complete buckets: actuals, fit, band, anomalies")
        ] = 0,
    ):
        n = _periods("periods", periods, granularity, service)
        try:
            model = await service.forecast(metric, granularity, wait=False)
            past = await asyncio.to_thread(recent_history, service, model, history) if history else []
        except Exception as exc:  # noqa: BLE001
            raise _metric_error(metric, exc) from None
        return {
            "metric": metric,
            "granularity": granularity,
            "periods": n,
            "points": model.points(n),
            "model": model.metadata(s),
            "history_days": model.history_points,
            "min_history_days": service.min_points(granularity),
            "history": past,
            "anomalies": [p for p in past if p["anomaly"]],
            "message": None,
        }

    @router.get(
        "/v1/backtest/{metric}",
        summary="Rolling-origin backtest against seasonal naive",
        response_model=schemas.Backtest,
        responses=error_responses(
            404, 422, 429, 503, e404="unknown metric", e503="the fit pool is busy, or the store is unavailable"
        ),
    )
    async def get_backtest(
        metric: str,
        principal: Annotated[Principal, read],
        granularity: Annotated[Granularity, Query()] = "day",
        horizon: Annotated[int | None, Query(ge=1, le=most, description="buckets per fold")] = None,
        folds: Annotated[int, Query(ge=1, le=20)] = 5,
    ):
        h = _periods("horizon", horizon, granularity, service)
        _limited(backtests, principal, "backtest")
        try:
            await asyncio.to_thread(service.check_metric, metric)
            series = await asyncio.to_thread(service.history, metric, granularity, None, h * folds)
            result = await service.pool.run(
                backtest, series, granularity, h, folds, service.min_points(granularity), service.config, wait=False
            )
        except Exception as exc:  # noqa: BLE001
            raise _metric_error(metric, exc) from None
        return {"metric": metric, **result.as_dict()}

    @router.get(
        "/v1/analytics",
        summary="Analytics queries and their parameters",
        response_model=schemas.QueryList,
        dependencies=[read],
    )
    async def list_queries() -> dict:
        return {"queries": [q.info() for q in queries().values()]}

    business = service.rollups.business  # whole-day ranges of the business page's queries
    for q in queries().values():
        _add_query_route(router, service, q, read, business)

    @router.get(
        "/v1/churn",
        summary="Churn risk per segment (newest monthly scoring) and the model's evaluation",
        dependencies=[read],
        responses=error_responses(404, 503),
    )
    async def get_churn() -> dict:
        if churn is None:
            raise ApiError(404, "churn_disabled", "churn scoring is off (OBS_FORECASTER_CHURN=false)")
        try:
            rows = await asyncio.to_thread(lambda: service.analytics.run("churn_segments", end=service.clock()).json())
        except Exception as exc:  # noqa: BLE001
            raise _store_error(exc) from None
        if not rows["rows"]:
            return {
                "cutoff": None,
                "segments": {},
                "model": None,
                "message": "no churn scores yet: the forecaster scores monthly once it has "
                f"{churn.min_users} active users at two consecutive month starts",
            }
        segments: dict[str, list] = {}
        for r in rows["rows"]:
            segments.setdefault(r["segment"], []).append(
                {k: r[k] for k in ("value", "users", "mean_probability", "at_risk")}
            )
        return {
            "cutoff": rows["rows"][0]["cutoff"],
            "segments": segments,
            "model": churn.last.as_dict() if churn.last else None,
        }

    @router.get(
        "/v1/churn/users",
        summary="Users most at risk of churning at the newest cutoff",
        dependencies=[read],
        responses=error_responses(404, 422, 503),
    )
    async def get_churn_users(limit: Annotated[int, Query(ge=1, le=10_000, description="rows")] = 100) -> dict:
        if churn is None:
            raise ApiError(404, "churn_disabled", "churn scoring is off (OBS_FORECASTER_CHURN=false)")
        db = service.analytics.database
        sql = (
            f"SELECT cutoff, user_id, probability, country, device_type, source, plan, recency_days, frequency, "
            f"monetary, sessions, support_tickets, refunds, payment_failures FROM {db}.churn_scores FINAL "
            f"WHERE cutoff = (SELECT max(cutoff) FROM {db}.churn_scores) "
            "ORDER BY probability DESC, user_id LIMIT {n:UInt32}"
        )
        try:
            result = await asyncio.to_thread(service.analytics.client.query, sql, parameters={"n": limit})
        except Exception as exc:  # noqa: BLE001
            raise _store_error(exc) from None
        users = [dict(zip(result.column_names, row)) for row in result.result_rows]
        for u in users:
            u["cutoff"] = u["cutoff"].isoformat()
        return {"users": users}

    @router.post(
        "/v1/reports/{kind}",
        summary="Send the daily, weekly or monthly KPI report now",
        description="Goes to OBS_REPORT_RECIPIENTS; `to` may narrow that list, never add to it.",
        response_model=schemas.ReportSent,
        responses=error_responses(
            403, 404, 422, 429, 502, e403="a recipient outside OBS_REPORT_RECIPIENTS, or a key without the admin scope"
        ),
    )
    async def post_report(
        kind: Annotated[str, Path(description="daily, weekly (+ PDF) or monthly (+ PDF)")],
        principal: Annotated[Principal, admin],
        to: Annotated[str | None, Query(description="comma-separated subset of the configured recipients")] = None,
    ):
        from observatory.reports.kpis import KINDS
        from observatory.reports.mail import ReportError, send_report

        if kind not in KINDS:
            raise ApiError(404, "unknown_report", f"unknown report {kind!r}", reports=list(KINDS))
        if reports is None or not reports.recipient_list():
            raise ApiError(422, "reports_not_configured", "no report recipients configured (OBS_REPORT_RECIPIENTS)")
        allowed = reports.recipient_list()
        wanted = [r.strip() for r in to.split(",") if r.strip()] if to else allowed
        outside = sorted({r for r in wanted if r.lower() not in {a.lower() for a in allowed}})
        if outside or not wanted:
            raise ApiError(
                403,
                "recipient_not_allowed",
                f"{len(outside)} recipient(s) not in OBS_REPORT_RECIPIENTS" if outside else "no recipient left",
            )
        _limited(sends, principal, "report")
        try:
            report = await asyncio.to_thread(
                send_report, kind, service.analytics, reports, service.clock(), service, wanted
            )
        except ReportError as exc:
            service.metrics.report_failures.labels(kind).inc()
            raise ApiError(exc.status, "report_not_sent", str(exc)) from None
        service.metrics.reports_sent.labels(kind).inc()
        log.info("report sent on request", extra={"kind": kind, "key": principal.name, "recipients": len(wanted)})
        return {"sent": True, "kind": kind, "period": report.period.label, "recipients": wanted}

    return router


_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$"


def _params() -> dict:
    """Every analytics parameter, typed (fresh objects per route)."""
    return {
        "start": (
            str | None,
            Query(pattern=_DATE, description="ISO-8601 date or date-time with zone; default: end - 30 days"),
        ),
        "end": (str | None, Query(pattern=_DATE, description="exclusive; default: the next UTC midnight")),
        "granularity": (Literal[GRANULARITIES] | None, Query(description="default day")),
        "limit": (int | None, Query(ge=1, le=1000, description="top-N size (default 10)")),
        "window_seconds": (int | None, Query(ge=1, le=366 * 86400, description="funnel window (default 7 days)")),
        "event_name": (str, Query(pattern=r"^[A-Za-z0-9_.:-]{1,200}$")),
        "dimension": (
            Literal["device_type", "browser", "os", "country"] | None,
            Query(description="web_breakdown: default device_type"),
        ),
        "steps": (
            str | None,
            Query(
                max_length=2000,
                description="funnel: 2..8 distinct event names, comma-separated, in order "
                "(default user_signup,product_viewed,add_to_cart,checkout_started,purchase_completed); "
                "bad steps answer 400 invalid_steps",
            ),
        ),
    }


def _add_query_route(router: APIRouter, service: ForecastService, q: SqlQuery, read, business: BusinessRollup) -> None:
    """GET /v1/analytics/<name> with exactly the query's parameters, typed; the business rollup answers
    the queries and ranges it serves (observatory.store.business), with the same columns and values."""
    specs = _params()
    names = [p for p in q.params if p in specs]
    if "start" in q.params and "end" not in names:
        names.append("end")

    async def run(request: Request, **params):
        raw = {k: str(v) for k, v in params.items() if v is not None}
        extra = sorted(set(request.query_params) - set(names))
        if extra:
            raise _invalid(extra[0], f"not a parameter of {q.name} (it takes {', '.join(names) or 'none'})")
        try:
            typed = parse_params(q, raw, now=service.clock())
        except ParameterError as exc:
            if exc.code == "invalid_steps":
                raise ApiError(400, exc.code, f"steps: {exc.message}", parameter="steps") from None
            raise _invalid(exc.parameter, exc.message) from None
        try:
            result = await asyncio.to_thread(business.answer, q.name, **typed)
        except Exception as exc:  # noqa: BLE001
            raise _store_error(exc) from None
        return result.json()

    parameters = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for name in names:
        kind, spec = specs[name]
        default = inspect.Parameter.empty if kind is str else None
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, spec])
        )
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # read by FastAPI for the query parameters
    run.__name__ = f"analytics_{q.name}"
    router.add_api_route(
        f"/v1/analytics/{q.name}",
        run,
        methods=["GET"],
        summary=q.description[:120] or q.name,
        response_model=schemas.QueryResult,
        dependencies=[read],
        responses=error_responses(*((400,) if "steps" in names else ()), 422, 503),
    )
