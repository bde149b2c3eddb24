"""POST /v1/events as a raw ASGI endpoint: the hot path skips the framework's routing layers.

  202 {"accepted": n, "rejected": [{"index": i, "reason": "...", "code": "..."}]}  durably queued
  400 malformed JSON, empty batch, or every event invalid (same body shape, accepted = 0)
  401 missing/unknown API key · 405 not POST · 415 not JSON
  413 body over the limit (as sent or decompressed), too many events, or more events than the key's
      rate-limit burst (never passes)
  429 rate limited (Retry-After) · 503 broker did not confirm, or any unexpected error while publishing
      (Retry-After): nothing was accepted, and the request's rate-limit tokens are given back
Bodies may be gzip (Content-Encoding: gzip). Decoding: ingest/formats/native.py; the rest is the shared
pipeline (ingest/pipeline.py) every door uses.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
from starlette.types import Receive, Scope, Send

from observatory.ingest.formats import DecodeError, Request, native
from observatory.ingest.http import answer, headers_of, read_body
from observatory.ingest.pipeline import Pipeline, client_of

log = logging.getLogger("observatory.ingest")
PATH = "/v1/events"
_CODE_REASONS = {
    "body_too_large": "body_too_large",
    "decompressed_too_large": "body_too_large",
    "malformed_json": "malformed_json",
    "bad_compression": "malformed_json",
}


class Route:
    """What the metrics middleware reads as the route template."""

    path = PATH


class EventsEndpoint:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.s = pipeline.s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = Route
        if scope["method"] != "POST":
            status, body, extra = (
                405,
                orjson.dumps({"error": "method_not_allowed", "message": "use POST"}),
                [(b"allow", b"POST")],
            )
        else:
            status, body, extra = await self.handle(scope, receive)
        await answer(send, status, body, extra)

    async def handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        headers = headers_of(scope)
        try:
            source = self.pipeline.keys.source_for(headers.get("authorization"))
            if source is None:
                raise DecodeError(
                    401,
                    "unauthorized",
                    "missing or unknown API key (Authorization: Bearer <key>)",
                    ((b"www-authenticate", b"Bearer"),),
                )
            if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                raise DecodeError(415, "unsupported_media_type", "send Content-Type: application/json")
            try:
                body = await read_body(receive, headers, self.s.max_body_bytes)
                payload = native.decode(Request(body, headers), self.s.max_decompressed_bytes)
            except DecodeError as exc:
                if exc.code in _CODE_REASONS:
                    self.pipeline.refuse(_CODE_REASONS[exc.code], 1)
                raise
            result = await self.pipeline.run(
                source, payload.messages, datetime.now(UTC), client=client_of(scope, headers)
            )
        except DecodeError as exc:
            return exc.status, orjson.dumps({"error": exc.code, "message": exc.message}), exc.headers
        rejected = [{"index": i, "reason": r.message, "code": r.code} for i, r in result.rejected]
        return (202 if result.accepted else 400), orjson.dumps({"accepted": result.accepted, "rejected": rejected}), []
