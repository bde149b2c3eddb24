"""The one pipeline every ingest door shares after decoding:
auth → limits → validate → publish with confirms (+ dead letters) → observe → result.

Doors (ingest/endpoint.py native, ingest/sdk.py PostHog and Segment) decode their wire format
(ingest/formats/) and shape the answer; everything in between happens here, once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from starlette.types import Scope

from observatory import tracing
from observatory.broker.publisher import GroupPublisher, PublishError
from observatory.events import Rejection, ValidatedEvent, Validator
from observatory.ingest.auth import KeyRing, RateLimiter
from observatory.ingest.deadletter import DeadLetters
from observatory.ingest.formats import DecodeError
from observatory.metrics import IngestMetrics
from observatory.settings import IngestSettings

log = logging.getLogger("observatory.ingest")


@dataclass
class Result:
    accepted: int
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)


class Pipeline:
    def __init__(
        self,
        settings: IngestSettings,
        keys: KeyRing,
        limiter: RateLimiter,
        validator: Validator,
        publisher: GroupPublisher,
        dead_letters: DeadLetters,
        metrics: IngestMetrics,
        observers: Sequence[Callable[[list[ValidatedEvent]], None]] = (),
    ) -> None:
        self.s = settings
        self.keys, self.limiter, self.validator = keys, limiter, validator
        self.publisher, self.dead_letters, self.metrics = publisher, dead_letters, metrics
        self.observers = list(observers)
        self.retry_after = str(settings.retry_after_s).encode()
        self._accepted_by_source: dict[str, Counter] = {}

    def _accepted(self, source: str) -> Counter:
        """The accepted-events counter of a source (label lookups cost microseconds: kept per source;
        sources are the configured keys' names, a bounded set)."""
        child = self._accepted_by_source.get(source)
        if child is None:
            child = self._accepted_by_source[source] = self.metrics.events_accepted.labels(source=source)
        return child

    # -- auth ---------------------------------------------------------------------------------
    def authenticate(self, keys: set[str]) -> str:
        """The source name of the request's one key; 401 when absent, unknown or conflicting."""
        if not keys:
            raise DecodeError(401, "unauthorized", "missing API key", ((b"www-authenticate", b"Bearer"),))
        if len(keys) > 1:
            raise DecodeError(401, "conflicting_keys", "the request carries more than one API key")
        source = self.keys.source_for_key(next(iter(keys)))
        if source is None:
            raise DecodeError(401, "unauthorized", "unknown API key", ((b"www-authenticate", b"Bearer"),))
        return source

    def refuse(self, reason: str, n: int) -> None:
        self.metrics.events_rejected.labels(reason=reason).inc(n)

    # -- the rest -----------------------------------------------------------------------------
    async def run(
        self,
        source: str,
        items: list[dict[str, Any] | Rejection],
        received_at: datetime,
        *,
        originals: list[Any] | None = None,
        door: str = "native",
        client: tuple[str | None, str | None] = (None, None),
    ) -> Result:
        """Validate and publish `items` (native-shaped events, or Rejections from mapping).

        With `originals` (SDK doors), each invalid event goes to the dead-letter queue as sent and the
        request succeeds with the valid ones; without (native door), invalid ones are only reported.
        Raises DecodeError for refusals of the whole request (nothing written).
        """
        m = self.metrics
        if not items:
            raise DecodeError(400, "empty_batch", "the batch holds no event")
        if len(items) > self.s.max_batch:
            self.refuse("batch_too_large", len(items))
            raise DecodeError(413, "batch_too_large", f"at most {self.s.max_batch} events per request")
        if len(items) > self.limiter.burst:
            self.refuse("batch_over_burst", len(items))
            raise DecodeError(
                413,
                "batch_over_burst",
                f"{len(items)} events exceed this key's rate-limit burst of {self.limiter.burst:g}: split the batch",
            )
        wait = self.limiter.take(source, len(items))
        if wait:
            self.refuse("rate_limited", len(items))
            seconds = 60 if math.isinf(wait) else max(1, math.ceil(wait))
            raise DecodeError(
                429, "rate_limited", "rate limit exceeded for this API key", ((b"retry-after", str(seconds).encode()),)
            )

        to_validate = [(i, item) for i, item in enumerate(items) if not isinstance(item, Rejection)]
        results = self.validator.validate_many([item for _, item in to_validate], received_at, source)
        accepted, rejected = [], [(i, item) for i, item in enumerate(items) if isinstance(item, Rejection)]
        for (index, _), result in zip(to_validate, results):
            if isinstance(result, Rejection):
                rejected.append((index, result))
            else:
                accepted.append(result)
        client_context(accepted, *client)
        rejected.sort(key=lambda r: r[0])
        for _, rejection in rejected:
            m.events_rejected.labels(reason=rejection.code).inc()
        dead = [(originals[i], r.code, r.message) for i, r in rejected] if originals is not None else []
        if not accepted and not dead:
            return Result(0, rejected)

        # the answer follows what the broker confirmed: the accepted events' group decides (503 only when it
        # was not confirmed); dead letters failing after that are counted and logged, never a 503
        dead_letters = asyncio.ensure_future(self.dead_letters.publish(dead, source, door)) if dead else None
        with tracing.timed(m.publish_confirm):
            try:
                if accepted:
                    await self.publisher.publish(accepted)
                else:
                    assert dead_letters is not None  # not accepted and not dead returned above
                    await dead_letters
            except Exception as exc:  # noqa: BLE001 - PublishError, or a bug: 503, never a 500, never silent
                if dead_letters is not None:
                    _discard(dead_letters)  # the client retries the whole request
                raise self._not_confirmed(exc, source, len(items), len(accepted), door) from None
            if accepted and dead_letters is not None:
                try:
                    await dead_letters
                except Exception as exc:  # noqa: BLE001 - the accepted events are in: the request succeeds
                    tracing.record_exception(exc)
                    m.dead_letter_failures.inc(len(dead))
                    log.error(
                        "invalid SDK events not dead-lettered (the valid ones were accepted): %s",
                        exc,
                        extra={"events": len(dead), "door": door, "error": str(exc)[:300]},
                    )
                    dead = []
        if accepted:
            self._accepted(source).inc(len(accepted))
        for _, code, message in dead:
            m.events_dead_lettered.labels(reason=code).inc()
            log.warning(
                "invalid SDK event dead-lettered (%s): %s",
                code,
                message[:300],
                extra={"reason": code, "door": door, "error": message[:300]},
            )
        for observe in self.observers:
            observe(accepted)
        return Result(len(accepted), rejected)

    def _not_confirmed(self, exc: Exception, source: str, items: int, accepted: int, door: str) -> DecodeError:
        """The 503 of a request whose events the broker did not confirm (counted, logged, rate refunded)."""
        m = self.metrics
        tracing.record_exception(exc)
        reason = exc.reason if isinstance(exc, PublishError) else "unexpected"
        m.publish_failures.labels(reason=reason).inc()
        m.events_rejected.labels(reason="broker_" + reason).inc(accepted)
        self.limiter.refund(source, items)
        extra = {"reason": reason, "events": accepted, "door": door}
        if isinstance(exc, PublishError):
            log.warning("publish not confirmed: %s", exc, extra=extra)
            message = f"{exc}; nothing was accepted, retry later"
            return DecodeError(503, "broker_unavailable", message, ((b"retry-after", self.retry_after),))
        log.error("unexpected error while publishing: %s", type(exc).__name__, exc_info=exc, extra=extra)
        return DecodeError(
            503,
            "publish_failed",
            "unexpected error while publishing; nothing was accepted, retry later",
            ((b"retry-after", self.retry_after),),
        )


def _discard(task: asyncio.Future[None]) -> None:
    """Cancel a task whose outcome no longer matters, or read the exception it ended with (never
    'Task exception was never retrieved')."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


def client_of(scope: Scope, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(client address, User-Agent) of a request, for the consumer's web enrichment. Behind a proxy the
    address is what the HTTP server resolved from X-Forwarded-For for its trusted proxies."""
    client = scope.get("client")
    agent = headers.get("user-agent")
    return (client[0] if client else None), (agent[:1000] if agent else None)


def client_context(events: list[ValidatedEvent], ip: str | None, agent: str | None) -> None:
    """Reserved fields for the consumer's web enrichment (events/enrich.py), named so that no events
    column takes them (ClickHouse drops unknown keys): the consumer derives device, browser, OS and
    country, and the IP is stored only when OBS_CONSUMER_STORE_CLIENT_IP=true."""
    if not ip and not agent:
        return
    for ev in events:
        if ip:
            ev["ingest_client_ip"] = ip
        if agent:
            ev["ingest_user_agent"] = agent
