"""POST /v1/events as a raw ASGI endpoint: the hot path skips the framework's routing layers.

  202 {"accepted": n, "rejected": [{"index": i, "reason": "...", "code": "..."}]}  durably queued
  400 malformed JSON, empty batch, or every event invalid (same body shape, accepted = 0)
  401 missing/unknown API key · 405 not POST · 415 not JSON
  413 body over the limit, too many events, or more events than the key's rate-limit burst (never passes)
  429 rate limited (Retry-After) · 503 broker did not confirm, or any unexpected error while publishing
      (Retry-After): nothing was accepted, and the request's rate-limit tokens are given back
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

import orjson

from observatory import tracing
from observatory.broker.publisher import GroupPublisher, PublishError
from observatory.events import Rejection, Validator
from observatory.ingest.auth import KeyRing, RateLimiter
from observatory.metrics import IngestMetrics
from observatory.settings import IngestSettings

log = logging.getLogger("observatory.ingest")
PATH = "/v1/events"


class Route:
    """What the metrics middleware reads as the route template."""

    path = PATH


class EventsEndpoint:
    def __init__(self, settings: IngestSettings, keys: KeyRing, limiter: RateLimiter, validator: Validator,
                 publisher: GroupPublisher, metrics: IngestMetrics) -> None:
        self.s = settings
        self.keys, self.limiter, self.validator = keys, limiter, validator
        self.publisher, self.metrics = publisher, metrics
        self.retry_after = str(settings.retry_after_s).encode()

    async def __call__(self, scope, receive, send) -> None:
        scope["route"] = Route
        if scope["method"] != "POST":
            status, body, extra = self._error(405, "method_not_allowed", "use POST", (b"allow", b"POST"))
        else:
            status, body, extra = await self.handle(scope, receive)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _error(self, status: int, code: str, message: str, *extra) -> tuple[int, bytes, list]:
        return status, orjson.dumps({"error": code, "message": message}), list(extra)

    async def _read(self, receive, declared: int | None) -> bytes | None:
        limit = self.s.max_body_bytes
        if declared is not None and declared > limit:
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def handle(self, scope, receive) -> tuple[int, bytes, list]:
        m = self.metrics
        auth = ctype = clen = agent = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value.decode("latin-1")
            elif name == b"content-type":
                ctype = value.decode("latin-1")
            elif name == b"content-length":
                clen = int(value) if value.isdigit() else None
            elif name == b"user-agent":
                agent = value.decode("latin-1")[:1000]
        source = self.keys.source_for(auth)
        if source is None:
            return self._error(401, "unauthorized", "missing or unknown API key (Authorization: Bearer <key>)",
                               (b"www-authenticate", b"Bearer"))
        if (ctype or "").split(";")[0].strip().lower() != "application/json":
            return self._error(415, "unsupported_media_type", "send Content-Type: application/json")
        body = await self._read(receive, clen)
        if body is None:
            m.events_rejected.labels(reason="body_too_large").inc()
            return self._error(413, "body_too_large", f"body is larger than {self.s.max_body_bytes} bytes")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            m.events_rejected.labels(reason="malformed_json").inc()
            return self._error(400, "malformed_json", f"body is not valid JSON: {exc}")
        events = payload if isinstance(payload, list) else [payload]
        if not events:
            return self._error(400, "empty_batch", "the batch holds no event")
        if len(events) > self.s.max_batch:
            m.events_rejected.labels(reason="batch_too_large").inc(len(events))
            return self._error(413, "batch_too_large", f"at most {self.s.max_batch} events per request")
        if len(events) > self.limiter.burst:
            m.events_rejected.labels(reason="batch_over_burst").inc(len(events))
            return self._error(413, "batch_over_burst", f"{len(events)} events exceed this key's rate-limit burst "
                                                        f"of {self.limiter.burst:g}: split the batch")
        wait = self.limiter.take(source, len(events))
        if wait:
            m.events_rejected.labels(reason="rate_limited").inc(len(events))
            return self._error(429, "rate_limited", "rate limit exceeded for this API key",
                               (b"retry-after", str(max(1, math.ceil(wait))).encode()))

        received = datetime.now(timezone.utc)
        accepted, rejected = [], []
        for index, result in enumerate(self.validator.validate_many(events, received, source)):
            if isinstance(result, Rejection):
                rejected.append({"index": index, "reason": result.message, "code": result.code})
                m.events_rejected.labels(reason=result.code).inc()
            else:
                accepted.append(result)
        if not accepted:
            return 400, orjson.dumps({"accepted": 0, "rejected": rejected}), []

        _client_context(accepted, scope, agent)
        with tracing.timed(m.publish_confirm):
            try:
                await self.publisher.publish(accepted)
            except PublishError as exc:
                tracing.record_exception(exc)
                m.publish_failures.labels(reason=exc.reason).inc()
                m.events_rejected.labels(reason="broker_" + exc.reason).inc(len(accepted))
                log.warning("publish not confirmed: %s", exc, extra={"reason": exc.reason, "events": len(accepted)})
                self.limiter.refund(source, len(events))
                return self._error(503, "broker_unavailable", f"{exc}; nothing was accepted, retry later",
                                   (b"retry-after", self.retry_after))
            except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: never a 500, never silent
                tracing.record_exception(exc)
                m.publish_failures.labels(reason="unexpected").inc()
                m.events_rejected.labels(reason="broker_unexpected").inc(len(accepted))
                log.exception("unexpected error while publishing: %s", type(exc).__name__,
                              extra={"reason": "unexpected", "events": len(accepted)})
                self.limiter.refund(source, len(events))
                return self._error(503, "publish_failed", "unexpected error while publishing; nothing was "
                                                          "accepted, retry later", (b"retry-after", self.retry_after))
        m.events_accepted.labels(source=source).inc(len(accepted))
        return 202, orjson.dumps({"accepted": len(accepted), "rejected": rejected}), []


def _client_context(events: list[dict], scope, agent: str | None) -> None:
    """Reserved fields for the consumer's web enrichment (events/enrich.py): the request's User-Agent
    and client address (named so that no events column takes them: ClickHouse drops unknown keys) (behind a proxy: what the server resolved from X-Forwarded-For for trusted
    proxies). The consumer derives device, browser, OS and country, and drops the IP before the insert
    unless OBS_CONSUMER_STORE_CLIENT_IP=true."""
    client = scope.get("client")
    ip = client[0] if client else None
    if not ip and not agent:
        return
    for ev in events:
        if ip:
            ev["ingest_client_ip"] = ip
        if agent:
            ev["ingest_user_agent"] = agent
