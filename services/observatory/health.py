"""`/health/live` and `/health/ready` (both listeners) and `/metrics` (the private listener only)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from pydantic import BaseModel

from observatory.responses import JSONResponse

Checks = dict[str, Callable[[], bool]]


class Live(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    checks: dict[str, bool]


def health_router(checks: Checks) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="The process is running", response_model=Live)
    async def live() -> dict:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        summary="Dependencies reachable: ready to take traffic",
        response_model=Ready,
        responses={503: {"model": Ready, "description": "a dependency is not ready"}},
    )
    async def ready() -> JSONResponse:
        results = {name: bool(check()) for name, check in checks.items()}
        ok = all(results.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": results}, status_code=200 if ok else 503
        )

    return router


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics (OpenMetrics when asked, with exemplars)",
        response_class=Response,
        responses={
            200: {
                "description": "the exposition",
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    OPENMETRICS.split(";")[0]: {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def metrics(request: Request) -> Response:
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            return Response(generate_openmetrics(registry), media_type=OPENMETRICS)
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    return router
