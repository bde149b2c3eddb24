"""API keys (stored as SHA-256 hashes, each named for its source) and per-key rate limits."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from observatory.settings import ApiKey


class KeyRing:
    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_hash = {k.sha256: k.name for k in keys}

    def source_for(self, authorization: str | None) -> str | None:
        """The key's name for a valid `Bearer <key>` header, else None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.source_for_key(token.strip())

    def source_for_key(self, key: str) -> str | None:
        """The key's name for a plain key (as SDKs send it in bodies or Basic auth), else None."""
        return self._by_hash.get(hashlib.sha256(key.encode()).hexdigest())


class TokenBucket:
    """Events per second with a burst allowance; one bucket per key (and per worker process).
    `clock` gives seconds on a monotonic scale (tests pass a fake one)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.updated = burst, clock()

    def take(self, n: int) -> float:
        """Take n tokens; returns 0 when allowed, else seconds to wait before retrying (inf: n is
        larger than the burst, so it can never pass: callers answer that before asking)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if n <= self.tokens:
            self.tokens -= n
            return 0.0
        if n > self.burst:
            return math.inf
        return (n - self.tokens) / self.rate

    def refund(self, n: int) -> None:
        """Give back tokens of a request that failed on our side (it will be retried)."""
        self.tokens = min(self.burst, self.tokens + n)


class RateLimiter:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, source: str, n: int) -> float:
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = TokenBucket(self.rate, self.burst, self.clock)
        return bucket.take(n)

    def refund(self, source: str, n: int) -> None:
        bucket = self._buckets.get(source)
        if bucket is not None:
            bucket.refund(n)
