"""Read-API keys with scopes, and the ONE dependency every private read route uses.

Keys: `OBS_API_KEYS`, comma-separated `name:sha256:<64 hex>[:scope+scope]` entries (see
`observatory keygen --read` / `--admin`). Scopes: `read` (analytics, forecasts, backtests, and any
other read route) and `admin` (also: trigger reports; implies read). Ingest keys
(`OBS_INGEST_API_KEYS`) are write-only: shown to the read API they get 403, not 401.

Use in a router (the app must carry `app.state.access`, which `observatory.listeners.private_app`
sets up):

    from observatory.api_keys import AUTH_ERRORS, require_scope

    router = APIRouter(dependencies=[require_scope("read")], responses=AUTH_ERRORS)
    @router.post("/v1/reports/{kind}", dependencies=[require_scope("admin")])

Answers: no or unknown key 401 + `WWW-Authenticate: Bearer`; a write key, or a read key without the
scope, 403. The key's name is on `request.state.api_key` for logs.

The web console's signed session cookie (observatory.console) stands in for the key on GET and HEAD
requests without an Authorization header, when the app carries `state.console_sessions` (an object
with `principal(request, access) -> Principal | None`): the console's pages fetch this same read API.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Set
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from observatory.errors import ApiError, error_responses
from observatory.settings import ScopedKey

SCOPES = ("read", "admin")
IMPLIED = {"admin": {"read", "admin"}, "read": {"read"}}
AUTH_ERRORS = error_responses(401, 403)
_bearer = HTTPBearer(auto_error=False, description="a read key from OBS_API_KEYS (`observatory keygen --read`)")


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]


class Access:
    """Who may do what on the private listener: read keys by hash, and write keys to recognise."""

    def __init__(self, read_keys: list[ScopedKey], write_hashes: Set[str] = frozenset()) -> None:
        self._read = {
            k.sha256: Principal(k.name, frozenset(s for scope in k.scopes for s in IMPLIED[scope])) for k in read_keys
        }
        self._write = set(write_hashes)
        self._by_name = {k.name: k.sha256 for k in read_keys}

    def named(self, name: str) -> tuple[Principal, str] | None:
        """The principal of the read key called `name` and the key's hash (None: no such key any more)."""
        digest = self._by_name.get(name)
        return (self._read[digest], digest) if digest is not None else None

    def authenticate(self, token: str) -> tuple[Principal, str] | None:
        """The principal of a read key and the key's hash, or None for an unknown (or write) key."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        principal = next((p for h, p in self._read.items() if hmac.compare_digest(h, digest)), None)
        return (principal, digest) if principal is not None else None

    def is_write_key(self, token: str) -> bool:
        return hashlib.sha256(token.encode()).hexdigest() in self._write

    def require(self, principal: Principal, scope: str) -> Principal:
        if scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"key {principal.name!r} lacks the {scope!r} scope")
        return principal

    def check(self, token: str | None, scope: str) -> Principal:
        if not token:
            raise _unauthorized("a read API key is required (Authorization: Bearer <key>)")
        found = self.authenticate(token)
        if found is None:
            if self.is_write_key(token):
                raise ApiError(
                    403,
                    "forbidden",
                    "this is an ingest (write-only) key; the read API needs a read key from OBS_API_KEYS",
                )
            raise _unauthorized("unknown API key")
        return self.require(found[0], scope)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def require_scope(scope: str):
    """A FastAPI dependency (use in `dependencies=[...]`) that admits keys holding `scope`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r} (one of {', '.join(SCOPES)})")

    async def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        access: Access = request.app.state.access
        sessions = getattr(request.app.state, "console_sessions", None)
        if credentials is None and sessions is not None and request.method in ("GET", "HEAD"):
            session_principal = sessions.principal(request, access)
            if session_principal is not None:
                request.state.api_key = session_principal.name
                return access.require(session_principal, scope)
        principal = access.check(credentials.credentials.strip() if credentials else None, scope)
        request.state.api_key = principal.name
        return principal

    check.__name__ = f"require_{scope}"
    return Depends(check)
