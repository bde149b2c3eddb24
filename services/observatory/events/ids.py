"""Time-ordered event ids (UUID version 7, RFC 9562) for events sent without one."""

from __future__ import annotations

import os
import threading
import time
import uuid

_POOL_BYTES = 4000  # 400 ids per getrandom() call instead of one call per id
_pool = b""
_at = 0
_lock = threading.Lock()


def _random80() -> int:
    """80 bits from the OS's CSPRNG, drawn in blocks (ids must not be predictable: an event sent
    with a predicted id would collapse with the real one in the store)."""
    global _pool, _at
    with _lock:
        if _at + 10 > len(_pool):
            _pool, _at = os.urandom(_POOL_BYTES), 0
        chunk = _pool[_at:_at + 10]
        _at += 10
    return int.from_bytes(chunk, "big")


def _forget_pool() -> None:  # a forked child must not hand out its parent's random bytes again
    global _pool, _at
    _pool, _at = b"", 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _uuid7_int(now_ms: int | None) -> int:
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = _random80()
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76                      # version 7
    value |= ((rand >> 62) & 0xFFF) << 64   # rand_a, 12 bits
    value |= 0b10 << 62                     # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)         # rand_b, 62 bits
    return value


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    return uuid.UUID(int=_uuid7_int(now_ms))


def uuid7_str() -> str:
    """str(uuid7()) without building the UUID object (the ingest hot path)."""
    h = f"{_uuid7_int(None):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
