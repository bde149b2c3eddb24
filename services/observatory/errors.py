"""The HTTP error shape of every JSON API here, `{"error": code, "message": text, ...}`, and the
pieces that keep it true in the OpenAPI contract:

  ApiError                 raise it from a route or a dependency; the handler renders the shape
  install_error_handlers   ApiError, request validation (422 invalid_parameter) and unknown routes
  ErrorBody                the response model to document (`responses=error_responses(401, 403)`)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from observatory.responses import JSONResponse


class ErrorBody(BaseModel):
    """Every error answer. Some carry extra fields (`parameter`, `needed`, `have`, `metrics`, ...)."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str


DESCRIPTIONS = {
    400: "malformed request",
    401: "missing or unknown read API key (see WWW-Authenticate)",
    403: "the key lacks the scope this route needs, or the request asks for something not allowed",
    404: "unknown resource",
    413: "request too large",
    415: "unsupported media type",
    422: "invalid parameter",
    429: "rate limited; retry after Retry-After seconds",
    502: "an upstream server (SMTP) refused",
    503: "busy or a dependency is unavailable; see Retry-After",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_AUTHENTICATE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}


def error_responses(*codes: int, **descriptions: str) -> dict:
    """OpenAPI `responses` entries for error codes, with the ErrorBody model and their headers.
    `descriptions` override by code: `error_responses(404, e404="unknown metric")`."""
    out = {}
    for code in codes:
        entry = {"model": ErrorBody, "description": descriptions.get(f"e{code}", DESCRIPTIONS.get(code, "error"))}
        if code in (429, 503):
            entry["headers"] = _RETRY_AFTER
        if code == 401:
            entry["headers"] = _AUTHENTICATE
        out[code] = entry
    return out


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.extra = headers or {}, extra

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.code, "message": self.message, **self.extra}, status_code=self.status, headers=self.headers
        )


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        parameter = _location(tuple(first.get("loc", ())))
        return JSONResponse(
            {"error": "invalid_parameter", "message": f"{parameter}: {first.get('msg')}", "parameter": parameter},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
