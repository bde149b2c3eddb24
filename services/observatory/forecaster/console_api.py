"""Routes of the web console's pages (private listener, read key): the web analytics page in one
request, live visitors, and the health summary. Contract: docs/analytics.md, "Console read API".

GET /v1/web/overview    ?period=today|7d|30d|90d or start/end, granularity, limit, filters -> every panel
GET /v1/web/live        ?minutes=5&site= -> visitors in the last minutes
GET /v1/health/summary  ingest, queue, consumer, store, firing alerts
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request

from observatory.errors import ApiError, error_responses
from observatory.forecaster.health_summary import HealthSummary
from observatory.forecaster.service import ForecastService
from observatory.store.analytics import ParameterError
from observatory.store.web_request import FILTERS, PERIODS, parse_web

log = logging.getLogger("observatory.forecaster")
_PARAMS = ("period", "start", "end", "granularity", "limit", *FILTERS)
_FILTER_DOC = {
    "page": "sessions with a pageview of this path",
    "source": "acquisition source of the session's first pageview (search, social, referral, campaign, direct, internal)",
    "referrer": "referrer host of the session's first pageview",
    "country": "country (ISO alpha-2) of the session's first pageview",
    "device": "device type of the session's first pageview",
    "browser": "browser of the session's first pageview",
    "os": "OS of the session's first pageview",
    "site": "ingest key name the session's first pageview was sent with (the events' source column)",
}


def _store_error(exc: Exception) -> ApiError:
    log.warning("store query failed: %s", exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ApiError(503, "store_unavailable", f"ClickHouse query failed: {first[:300]}", headers={"Retry-After": "30"})


def console_router(service: ForecastService, health: HealthSummary) -> APIRouter:
    from observatory.api_keys import AUTH_ERRORS, require_scope

    router = APIRouter(tags=["console"], responses=AUTH_ERRORS)
    read = require_scope("read")
    web = service.rollups.web

    @router.get(
        "/v1/web/overview",
        summary="Every panel of the web analytics page from one sessions pass, with the previous period",
        dependencies=[read],
        responses=error_responses(422, 503),
    )
    async def web_overview(
        request: Request,
        period: Annotated[str | None, Query(description=f"{', '.join(PERIODS)} (instead of start/end)")] = None,
        start: Annotated[str | None, Query(description="ISO-8601, inclusive; default end - 30 days")] = None,
        end: Annotated[str | None, Query(description="ISO-8601, exclusive; default the next UTC midnight")] = None,
        granularity: Annotated[str | None, Query(description="hour|day|week|month of the series")] = None,
        limit: Annotated[int | None, Query(ge=1, le=100, description="rows per panel (default 10)")] = None,
        page: Annotated[str | None, Query(description=_FILTER_DOC["page"])] = None,
        source: Annotated[str | None, Query(description=_FILTER_DOC["source"])] = None,
        referrer: Annotated[str | None, Query(description=_FILTER_DOC["referrer"])] = None,
        country: Annotated[str | None, Query(description=_FILTER_DOC["country"])] = None,
        device: Annotated[str | None, Query(description=_FILTER_DOC["device"])] = None,
        browser: Annotated[str | None, Query(description=_FILTER_DOC["browser"])] = None,
        os: Annotated[str | None, Query(description=_FILTER_DOC["os"])] = None,
        site: Annotated[str | None, Query(description=_FILTER_DOC["site"])] = None,
    ) -> dict:
        extra = sorted(set(request.query_params) - set(_PARAMS))
        if extra:
            raise ApiError(
                422,
                "invalid_parameter",
                f"{extra[0]}: not a parameter (it takes {', '.join(_PARAMS)})",
                parameter=extra[0],
            )
        raw = {k: request.query_params.get(k) for k in _PARAMS}
        try:
            req = parse_web(raw, service.clock())
        except ParameterError as exc:
            raise ApiError(422, "invalid_parameter", str(exc), parameter=exc.parameter) from None
        try:
            return await asyncio.to_thread(web.overview, req)
        except Exception as exc:  # noqa: BLE001
            raise _store_error(exc) from None

    @router.get(
        "/v1/web/live",
        summary="Visitors in the last minutes (default 5)",
        dependencies=[read],
        responses=error_responses(422, 503),
    )
    async def web_live(
        minutes: Annotated[int, Query(ge=1, le=60, description="window before now")] = 5,
        site: Annotated[str, Query(max_length=300, description=_FILTER_DOC["site"])] = "",
    ) -> dict:
        try:
            return await asyncio.to_thread(web.live, service.clock(), minutes, site)
        except Exception as exc:  # noqa: BLE001
            raise _store_error(exc) from None

    @router.get(
        "/v1/health/summary",
        summary="Ingest rate, 4xx/5xx, queue depth, consumer lag, accepted-to-queryable latency, firing alerts",
        dependencies=[read],
    )
    async def health_summary() -> dict:
        return await asyncio.to_thread(health.summary, service.clock())

    return router
