"""`/health/live`, `/health/ready` and `/metrics`, mounted the same way by every service."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from observatory.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

Checks = dict[str, Callable[[], bool]]


def health_router(checks: Checks, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="The process is running")
    async def live() -> dict:
        return {"status": "ok"}

    @router.get("/health/ready", summary="Dependencies reachable: ready to take traffic",
                responses={503: {"description": "a dependency is not ready"}})
    async def ready() -> JSONResponse:
        results = {name: bool(check()) for name, check in checks.items()}
        ok = all(results.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": results},
                              status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics (OpenMetrics when asked, with exemplars)")
    async def metrics(request: Request) -> Response:
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            return Response(generate_openmetrics(registry), media_type=OPENMETRICS)
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    return router
