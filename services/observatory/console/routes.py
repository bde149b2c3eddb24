"""The console's routes on the private listener (none in the OpenAPI document):

GET  /console/                sign-in page (signed in: to /console/web)
POST /console/session         sign in: form fields key, csrf (double-submit cookie), next; Origin checked
POST /console/signout         end the session (csrf field bound to the session)
GET  /console/{page}          web | business | forecasts | health (no session: the sign-in page, 401)
GET  /console/static/{file}   app.js, app.css (ETag, gzip)

The pages fetch the read API (/v1/...) with the session cookie (observatory.api_keys accepts it on
GET). The key is only ever in the sign-in POST's body: never in a URL, a cookie or a log line.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from observatory.api_keys import Access
from observatory.console import pages
from observatory.console.session import COOKIE, CSRF_COOKIE, Sessions

log = logging.getLogger("observatory.console")
STATIC = Path(__file__).parent / "static"
TYPES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # not no-referrer: the browser then sends `Origin: null` on our own POSTs
    "Cache-Control": "no-store",
}


class WrongKeys:
    """Wrong keys per client address: after `limit` within `window_s`, sign-in waits until the oldest
    of them is `window_s` old (a key cannot be guessed anyway; this keeps the log and the CPU quiet)."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._seen: dict[str, list[float]] = {}

    def _recent(self, client: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._seen.get(client, ()) if now - t < self.window_s]
        if recent:
            self._seen[client] = recent
        else:
            self._seen.pop(client, None)
        return recent

    def wait(self, client: str) -> float:
        recent = self._recent(client)
        return self.window_s - (self.clock() - recent[0]) if len(recent) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        if len(self._seen) > 10_000:  # a private listener sees few addresses: never let the map grow unbounded
            self._seen.clear()
        self._recent(client)
        self._seen.setdefault(client, []).append(self.clock())


class _Asset:
    def __init__(self, name: str) -> None:
        self.body = (STATIC / name).read_bytes()
        self.gzipped = gzip.compress(self.body, 9, mtime=0)
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'
        self.type = TYPES[name]


def console_router(sessions: Sessions, clock: Callable[[], datetime], secure: bool = False) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    attempts = WrongKeys()
    assets = {name: _Asset(name) for name in TYPES}
    static = {name: f"/console/static/{name}?v={a.etag.strip(chr(34))[:10]}" for name, a in assets.items()}

    def cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure)

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def sign_in_page(request: Request, message: str = "", status: int = 200, next_path: str = "") -> HTMLResponse:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(18)
        response = html(pages.sign_in(static, token, message, next_path), status)
        cookie(response, CSRF_COOKIE, token, None)
        return response

    def access_of(request: Request) -> Access:
        return request.app.state.access

    @router.get("/console")
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @router.get("/console/")
    async def index(request: Request) -> Response:
        if sessions.current(request, access_of(request)):
            return RedirectResponse("/console/web", status_code=303)
        return sign_in_page(request)

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            # browsers send Origin on every POST; without one, accept only a same-site fetch
            return origin is None and request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
        parts = urlsplit(origin)
        return parts.netloc == request.headers.get("host", "") and parts.scheme in ("http", "https")

    async def form(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > 8192:
            return {}
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}

    @router.post("/console/session")
    async def sign_in(request: Request) -> Response:
        fields = await form(request)
        csrf = request.cookies.get(CSRF_COOKIE, "")
        if not same_origin(request) or not csrf or not hmac.compare_digest(csrf, fields.get("csrf", "")):
            log.warning(
                "console sign-in refused: cross-site or stale form", extra={"origin": request.headers.get("origin")}
            )
            return sign_in_page(request, "The form expired or came from another site: sign in again.", 403)
        client = request.client.host if request.client else "-"
        wait = attempts.wait(client)
        if wait:
            log.warning("console sign-in refused: too many wrong keys", extra={"client": client})
            page = sign_in_page(request, f"Too many wrong keys: try again in {math.ceil(wait)} s.", 429)
            page.headers["Retry-After"] = str(math.ceil(wait))
            return page
        access, key = access_of(request), fields.get("key", "").strip()
        found = access.authenticate(key) if key else None
        if found is None:
            attempts.failed(client)
            log.info("console sign-in failed")
            message = (
                "That is an ingest (write-only) key: the console needs a read or admin key from OBS_API_KEYS."
                if key and access.is_write_key(key)
                else "Wrong key: it is not a read or admin key of this server."
            )
            return sign_in_page(request, message if key else "Enter a key.", 401)
        principal, digest = found
        target = fields.get("next", "")
        if not target.startswith("/console/") or target.startswith("//") or "\\" in target:
            target = "/console/web"
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        cookie(response, COOKIE, sessions.issue(principal.name, digest, sorted(principal.scopes)), sessions.ttl_s)
        response.delete_cookie(CSRF_COOKIE, path="/")
        log.info("console sign-in", extra={"key": principal.name})
        return response

    @router.post("/console/signout")
    async def sign_out(request: Request) -> Response:
        fields = await form(request)
        current = sessions.current(request, access_of(request))
        if current is not None:
            if not same_origin(request) or not hmac.compare_digest(sessions.csrf(current[0]), fields.get("csrf", "")):
                return html("<p>Sign-out refused: the form came from another site.</p>", 403)
            sessions.end(current[0])
            log.info("console sign-out", extra={"key": current[1].name})
        response = RedirectResponse("/console/", status_code=303, headers={"Cache-Control": "no-store"})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
        return response

    @router.get("/console/static/{name}")
    async def asset(name: str, request: Request) -> Response:
        a = assets.get(name)
        if a is None:
            return Response("not found", status_code=404, media_type="text/plain")
        headers = {
            "ETag": a.etag,
            "Cache-Control": "no-cache",
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == a.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(a.gzipped, media_type=a.type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(a.body, media_type=a.type, headers=headers)

    for page in pages.PAGES:
        router.add_api_route(
            f"/console/{page}", _page_handler(page, sessions, clock, static, sign_in_page), methods=["GET"]
        )
    return router


def _page_handler(page: str, sessions: Sessions, clock, static: dict[str, str], sign_in_page):
    async def show(request: Request) -> Response:
        current = sessions.current(request, request.app.state.access)
        if current is None:
            return sign_in_page(
                request, "", 401, next_path=request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
        session, principal = current
        query = {k: v for k, v in request.query_params.items() if len(v) <= 500}
        body = pages.shell(page, static, sessions.csrf(session), clock().date(), query, principal.name)
        return HTMLResponse(body, headers=HEADERS)

    show.__name__ = f"console_{page}"
    return show
