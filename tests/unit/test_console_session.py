"""The console's signed session cookie: round trip, tampering, expiry, sign-out, key rotation."""

from __future__ import annotations

import base64
import json

from starlette.requests import Request

from observatory.api_keys import Access
from observatory.console.session import COOKIE, Sessions, load_secret
from observatory.settings import ScopedKey

SECRET = b"0123456789abcdef-test-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _request(cookie: str) -> Request:
    return Request({"type": "http", "headers": [(b"cookie", f"{COOKIE}={cookie}".encode())]})


def test_a_session_round_trips_and_expires():
    clock = Clock()
    sessions = Sessions(SECRET, ttl_s=600, clock=clock)
    value = sessions.issue("analyst", "ab" * 32, ["read"])
    s = sessions.verify(value)
    assert s is not None and s.key_name == "analyst" and s.scopes == ("read",) and s.expires == 1_000_600
    assert "ab" * 32 not in value  # the key's hash is not in the cookie, only a keyed fingerprint
    clock.now += 599
    assert sessions.verify(value) is not None
    clock.now += 1
    assert sessions.verify(value) is None


def test_tampered_or_foreign_cookies_are_refused():
    sessions = Sessions(SECRET, ttl_s=600)
    value = sessions.issue("analyst", "ab" * 32, ["read"])
    version, payload, sig = value.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["s"] = ["admin", "read"]
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert sessions.verify(f"{version}.{forged}.{sig}") is None
    assert sessions.verify(value[:-2] + ("AA" if value[-2:] != "AA" else "BB")) is None
    assert Sessions(b"another-secret-of-16+bytes", ttl_s=600).verify(value) is None
    for junk in ("", "v1", "v1..", "v2.e30.x", "v1.!!!.x", None):
        assert sessions.verify(junk) is None


def test_sign_out_ends_the_session_and_rotating_the_key_ends_it_too():
    sessions = Sessions(SECRET, ttl_s=600)
    access = Access([ScopedKey(name="analyst", sha256="ab" * 32, scopes=("read",))])
    value = sessions.issue("analyst", "ab" * 32, ["read"])
    assert sessions.principal(_request(value), access).name == "analyst"
    rotated = Access([ScopedKey(name="analyst", sha256="cd" * 32, scopes=("read",))])
    assert sessions.principal(_request(value), rotated) is None
    assert sessions.principal(_request(value), Access([])) is None
    sessions.end(sessions.verify(value))
    assert sessions.principal(_request(value), access) is None
    assert sessions.csrf(sessions.verify(sessions.issue("analyst", "ab" * 32, ["read"]))) != ""


def test_the_secret_file_is_made_once_and_kept(tmp_path):
    path = tmp_path / "console-secret"
    first = load_secret("", path)
    assert len(first) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_secret("", path) == first
    assert load_secret("configured-secret", path) == b"configured-secret"


def test_wrong_keys_are_limited_per_address_and_forgotten_after_the_window():
    from observatory.console.routes import WrongKeys

    clock = Clock()
    limiter = WrongKeys(limit=3, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.wait("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.wait("10.0.0.1") == 60
    assert limiter.wait("10.0.0.2") == 0  # another address is not affected
    clock.now += 59
    assert limiter.wait("10.0.0.1") == 1
    clock.now += 1
    assert limiter.wait("10.0.0.1") == 0
