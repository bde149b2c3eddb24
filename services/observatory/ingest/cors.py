"""CORS for the write paths (native and SDK doors), so browser SDKs on another origin can send.

Allowed origins come from OBS_INGEST_CORS_ORIGINS (comma-separated; `*` allows any origin, which is
safe because ingest keys are write-only). An allowed origin is echoed (never `*`), credentials are
allowed, and a preflight's requested headers are mirrored. Other paths are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = b"GET, POST, OPTIONS"


class CorsMiddleware:
    def __init__(self, app: ASGIApp, origins: list[str], is_write_path: Callable[[str], bool]) -> None:
        self.app = app
        self.any = "*" in origins
        self.origins = {o.rstrip("/") for o in origins if o != "*"}
        self.is_write_path = is_write_path

    def allowed(self, origin: str) -> bool:
        return self.any or origin.rstrip("/") in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.is_write_path(scope["path"]):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None:
            return await self.app(scope, receive, send)
        ok = self.allowed(origin.decode("latin-1"))
        common = [(b"vary", b"Origin")]
        if ok:
            common += [(b"access-control-allow-origin", origin), (b"access-control-allow-credentials", b"true")]
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            status = 204 if ok else 403
            extra = [(b"access-control-allow-methods", METHODS), (b"access-control-max-age", b"600")] if ok else []
            requested = headers.get(b"access-control-request-headers")
            if ok and requested:
                extra.append((b"access-control-allow-headers", requested))
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [*common, *extra, (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return None

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *common]}
            await send(message)

        return await self.app(scope, receive, send_with_cors)
