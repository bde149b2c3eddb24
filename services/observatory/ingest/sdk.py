"""SDK doors: PostHog (/e, /i/v0/e, /batch, /capture, /track) and Segment/RudderStack (/v1/batch, /v1/b,
/v1/<type>, /v1/<t>), plus the stubs posthog-js calls on init (/flags, /decide, /array/<token>/config).

Decoding and mapping live in ingest/formats/ (one module per wire format); auth, limits, validation,
publish with confirms and dead-lettering are the shared pipeline (ingest/pipeline.py). Answers:
200 {"status": 1} (PostHog) / {"success": true} (Segment) only once RabbitMQ confirmed; invalid events
of a batch go to the dead-letter queue and the valid ones are accepted (SDKs drop a batch on a 4xx).
400 undecodable · 401 missing, unknown or conflicting keys · 413 over a size limit · 429 · 503 + Retry-After.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from observatory.events import Rejection
from observatory.ingest.formats import DecodeError, Payload, Request, posthog, segment
from observatory.ingest.formats.mapping import skew
from observatory.ingest.http import answer, headers_of, query_of, read_body
from observatory.ingest.pipeline import Pipeline, client_of

NO_FLAGS = orjson.dumps(
    {
        "flags": {},
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
        "sessionRecording": False,
        "surveys": False,
    }
)
_REFUSAL_REASONS = {
    "body_too_large": "body_too_large",
    "decompressed_too_large": "body_too_large",
    "malformed_json": "malformed_json",
    "bad_compression": "malformed_json",
    "bad_encoding": "malformed_json",
    "empty_body": "malformed_json",
    "malformed_form": "malformed_json",
    "unsupported_encoding": "malformed_json",
}


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path


def _keys_from_authorization(value: str | None, basic: bool) -> set[str]:
    if not value:
        return set()
    scheme, _, credentials = value.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer" and credentials:
        return {credentials}
    if scheme == "basic" and basic and credentials:
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise DecodeError(401, "unauthorized", "malformed Basic credentials") from None
        return {user or password} - {""}
    return set()


class WireFormat(Protocol):
    """What a door needs of a wire-format module (ingest/formats/posthog.py, segment.py)."""

    DOOR: str

    def decode(self, req: Request, max_decompressed: int) -> Payload: ...

    def to_event(
        self, message: Any, source: str, received_at: datetime, clock_skew: timedelta | None = None
    ) -> dict[str, Any] | Rejection: ...


class SdkDoor:
    """One wire format's door (raw ASGI)."""

    def __init__(self, pipeline: Pipeline, fmt: WireFormat, route: str, ok_body: bytes, basic_auth: bool) -> None:
        self.pipeline, self.fmt, self.route = pipeline, fmt, _Route(route)
        self.ok_body, self.basic_auth = ok_body, basic_auth
        self.s = pipeline.s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        method = scope["method"]
        if method == "OPTIONS":
            return await answer(send, 204, b"", [(b"allow", b"GET, POST, OPTIONS")])
        if method not in ("GET", "POST"):
            return await answer(
                send,
                405,
                orjson.dumps({"error": "method_not_allowed", "message": "use POST"}),
                [(b"allow", b"GET, POST, OPTIONS")],
            )
        try:
            status, body, extra = 200, await self.handle(scope, receive), []
        except DecodeError as exc:
            if exc.code in _REFUSAL_REASONS:
                self.pipeline.refuse(_REFUSAL_REASONS[exc.code], 1)
            status, body, extra = exc.status, orjson.dumps({"error": exc.code, "message": exc.message}), exc.headers
        await answer(send, status, body, extra)

    async def handle(self, scope: Scope, receive: Receive) -> bytes:
        headers = headers_of(scope)
        body = await read_body(receive, headers, self.s.sdk_max_body_bytes)
        request = Request(body, headers, query_of(scope), scope["path"])
        payload = self.fmt.decode(request, self.s.max_decompressed_bytes)
        keys = payload.keys | _keys_from_authorization(headers.get("authorization"), self.basic_auth)
        source = self.pipeline.authenticate(keys)
        received = datetime.now(UTC)
        if len(payload.messages) > self.s.max_batch:  # refuse before mapping a huge batch
            self.pipeline.refuse("batch_too_large", len(payload.messages))
            raise DecodeError(413, "batch_too_large", f"at most {self.s.max_batch} events per request")
        clock_skew = skew(payload.sent_at, received)
        events = [self.fmt.to_event(m, source, received, clock_skew) for m in payload.messages]
        await self.pipeline.run(
            source, events, received, originals=payload.messages, door=self.fmt.DOOR, client=client_of(scope, headers)
        )
        return self.ok_body


class StubDoor:
    """posthog-js init calls: no feature flags, no remote config (capture works without them)."""

    def __init__(self, body: bytes, route: str) -> None:
        self.body, self.route = body, _Route(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        if scope["method"] == "OPTIONS":
            return await answer(send, 204, b"")
        await answer(send, 200, self.body)


def _both(path: str) -> tuple[str, str]:
    return path, path + "/"


def sdk_doors(pipeline: Pipeline) -> dict[str, ASGIApp]:
    """Write paths (path → raw ASGI door) for the public listener; a path ending in `*` is a prefix."""
    doors: dict[str, ASGIApp] = {}
    ph_ok = orjson.dumps({"status": 1})
    for path in posthog.PATHS:
        door = SdkDoor(pipeline, posthog, path, ph_ok, basic_auth=False)
        doors.update(dict.fromkeys(_both(path), door))
    seg_ok = orjson.dumps({"success": True})
    for path in (*segment.BATCH_PATHS, *segment.SINGLE_PATHS):
        doors.update(dict.fromkeys(_both(path), SdkDoor(pipeline, segment, path, seg_ok, basic_auth=True)))
    for path in ("/flags", "/decide"):
        doors.update(dict.fromkeys(_both(path), StubDoor(NO_FLAGS, path)))
    doors["/array/*"] = StubDoor(b"{}", "/array/{token}/config")
    return doors
