"""Time-ordered event ids (UUID version 7, RFC 9562) for events sent without one.

Pure: the time and the random bytes come from the two functions an IdSource is given (the
process's real ones are wired in observatory/events_io.py; tests pass fixed ones)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

BLOCK_BYTES = 4000  # 400 ids per call of the random source instead of one call per id
_MS48, _RAND_B = (1 << 48) - 1, (1 << 62) - 1
_VERSION_7, _VARIANT = 0x7 << 76, 0b10 << 62


def uuid7_int(ms: int, rand80: int) -> int:
    """The 128-bit value of a UUIDv7 from a Unix time in milliseconds and 80 random bits."""
    value = (ms & _MS48) << 80
    value |= _VERSION_7  # version 7
    value |= ((rand80 >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= _VARIANT  # RFC 4122 variant
    value |= rand80 & _RAND_B  # rand_b, 62 bits
    return value


def uuid_text(value: int) -> str:
    """str(uuid.UUID(int=value)) without building the UUID object (the ingest hot path)."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class IdSource:
    """UUIDv7 ids as strings: calling it gives the next id.

    `random_bytes(n)` must be a CSPRNG (ids must not be predictable: an event sent with a predicted
    id would collapse with the real one in the store); it is drawn in blocks of BLOCK_BYTES.
    `now_ns()` is the wall clock in nanoseconds. A process that forks must call forget() in the
    child, so the child does not hand out its parent's random bytes again."""

    def __init__(self, random_bytes: Callable[[int], bytes], now_ns: Callable[[], int]) -> None:
        self._random_bytes, self._now_ns = random_bytes, now_ns
        self._pool, self._at = b"", 0
        self._lock = threading.Lock()

    def forget(self) -> None:
        self._pool, self._at = b"", 0

    def _random80(self) -> int:
        with self._lock:
            if self._at + 10 > len(self._pool):
                self._pool, self._at = self._random_bytes(BLOCK_BYTES), 0
            chunk = self._pool[self._at : self._at + 10]
            self._at += 10
        return int.from_bytes(chunk, "big")

    def uuid(self, now_ms: int | None = None) -> uuid.UUID:
        ms = self._now_ns() // 1_000_000 if now_ms is None else now_ms
        return uuid.UUID(int=uuid7_int(ms, self._random80()))

    def __call__(self) -> str:
        """uuid_text(uuid7_int(ms, 80 random bits)), written out: it runs for every event sent
        without an id, on the ingest hot path."""
        with self._lock:
            at = self._at
            if at + 10 > len(self._pool):
                self._pool, at = self._random_bytes(BLOCK_BYTES), 0
            rand = int.from_bytes(self._pool[at : at + 10], "big")
            self._at = at + 10
        value = (
            (self._now_ns() // 1_000_000 & _MS48) << 80
            | _VERSION_7
            | ((rand >> 62) & 0xFFF) << 64
            | _VARIANT
            | rand & _RAND_B
        )
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
