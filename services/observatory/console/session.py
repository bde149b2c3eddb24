"""Signed session cookies for the web console: HMAC-SHA256 over a small JSON payload, with expiry.

A session names the read key it was opened with (its name and a fingerprint of its hash, never the
key), its scopes, an expiry and a random id. Every request re-checks that the key is still configured
(rotating or removing a key ends its sessions) and that the session was not signed out: signed-out ids
are remembered until they would have expired anyway (one process serves the console: the forecaster
or the all-in-one).

  Sessions(secret, ttl_s)       .issue(name, key_sha256, scopes) -> cookie value
                                .verify(value) -> Session | None (bad signature, expired, signed out)
                                .end(session); .csrf(session) -> the token of its forms
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from observatory.api_keys import Access, Principal

COOKIE = "obs_console"
CSRF_COOKIE = "obs_console_csrf"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    id: str
    key_name: str
    fingerprint: str
    scopes: tuple[str, ...]
    expires: int


class Sessions:
    def __init__(self, secret: bytes, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the console's session secret must be at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s
        self._clock = clock
        self._ended: dict[str, int] = {}  # session id -> its expiry

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, b"session:" + payload, hashlib.sha256).digest())

    def fingerprint(self, key_sha256: str) -> str:
        """Names the key without revealing anything about it (keyed by the secret)."""
        return _b64(hmac.new(self._secret, b"key:" + key_sha256.encode(), hashlib.sha256).digest()[:12])

    def issue(self, key_name: str, key_sha256: str, scopes: tuple[str, ...] | list[str]) -> str:
        body = {
            "id": secrets.token_urlsafe(12),
            "k": key_name,
            "f": self.fingerprint(key_sha256),
            "s": sorted(scopes),
            "exp": int(self._clock()) + self.ttl_s,
        }
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return f"v1.{_b64(payload)}.{self._sign(payload)}"

    def verify(self, value: str | None) -> Session | None:
        if not value or value.count(".") != 2:
            return None
        version, payload_b64, signature = value.split(".")
        try:
            payload = _unb64(payload_b64)
        except ValueError:
            return None
        if version != "v1" or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(payload)
            session = Session(body["id"], body["k"], body["f"], tuple(body["s"]), int(body["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = int(self._clock())
        if session.expires <= now or session.id in self._ended:
            return None
        return session

    def end(self, session: Session) -> None:
        now = int(self._clock())
        self._ended = {k: exp for k, exp in self._ended.items() if exp > now}  # forget what expired anyway
        self._ended[session.id] = session.expires

    def current(self, request: Request, access: Access) -> tuple[Session, Principal] | None:
        """The request's session and its key's principal as configured now (None: no valid session,
        or its key was removed or rotated)."""
        session = self.verify(request.cookies.get(COOKIE))
        if session is None:
            return None
        found = access.named(session.key_name)
        if found is None or not hmac.compare_digest(self.fingerprint(found[1]), session.fingerprint):
            return None
        return session, found[0]

    def principal(self, request: Request, access: Access) -> Principal | None:
        """What observatory.api_keys asks: the principal a GET request's session cookie stands for."""
        current = self.current(request, access)
        return current[1] if current else None

    def csrf(self, session: Session) -> str:
        return _b64(hmac.new(self._secret, b"csrf:" + session.id.encode(), hashlib.sha256).digest()[:18])


def load_secret(configured: str, path: Path | None) -> bytes:
    """The configured secret; else the one kept in `path` (made on first use, mode 0600); else a random
    one for this process (sessions then end when it restarts)."""
    if configured:
        return configured.encode()
    if path is None:
        return secrets.token_bytes(32)
    try:
        return path.read_text().strip().encode()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(value + "\n")
        return value.encode()
