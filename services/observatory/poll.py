"""Bounded waits: poll a check until it holds, or fail with a message that names what was awaited
and the last thing the check saw (its falsy answer or the exception it raised).

One helper for the whole code base (the local stack, the setup jobs, the test sinks, the test
conftests) and its async twin for checks run on an event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

NOT_YET = (Exception,)  # by default a failing check means "not yet"; its last failure is reported


class WaitTimeout(TimeoutError):
    """The check did not hold within the time; `last` is what it returned or raised the last time."""

    def __init__(self, message: str, last: object = None) -> None:
        super().__init__(message)
        self.last = last


_NOTHING = object()


def _describe(last: object) -> str:
    if isinstance(last, BaseException):
        return f"{type(last).__name__}: {last}".strip()
    return "no answer yet" if last is _NOTHING else repr(last)


def _timeout(what: str, timeout_s: float, last: object, hint: str) -> WaitTimeout:
    text = f"timed out after {timeout_s:.0f}s waiting for {what} (last: {_describe(last)[:500]})"
    return WaitTimeout(f"{text}. {hint}" if hint else text, None if last is _NOTHING else last)


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout_s: float,
    interval_s: float = 0.2,
    *,
    transient: tuple[type[BaseException], ...] = NOT_YET,
    alive: Callable[[], bool] | None = None,
    log_hint: str = "",
    log: logging.Logger | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> Any:
    """Call `check` until it returns a truthy value and return that value.

    Exceptions of the `transient` types count as "not yet" (others propagate). `alive`, when given,
    is asked after each miss: False means the awaited process is gone (RuntimeError at once).
    The check runs at least once and once more at the deadline. `log_hint` ends the error message
    (e.g. where the log is); `log` gets a line on the first miss, every 10th and when ready.
    `sleep(seconds)` waits between attempts (a threading.Condition's wait wakes early on notify)."""
    deadline = time.monotonic() + timeout_s
    last: object = _NOTHING
    attempt = 0
    while True:
        attempt += 1
        try:
            last = check()
        except transient as exc:
            last = exc
        else:
            if last:
                if log is not None and attempt > 1:
                    log.info("ready", extra={"target": what, "attempts": attempt})
                return last
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: the process exited while starting. {log_hint}".strip())
        left = deadline - time.monotonic()
        if left <= 0:
            raise _timeout(what, timeout_s, last, log_hint)
        if log is not None and (attempt == 1 or attempt % 10 == 0):
            log.info("waiting", extra={"target": what, "reason": _describe(last)[:200]})
        sleep(min(interval_s, left))


async def wait_for_async(
    what: str,
    check: Callable[[], Any],
    timeout_s: float,
    interval_s: float = 0.1,
    *,
    transient: tuple[type[BaseException], ...] = NOT_YET,
    log_hint: str = "",
) -> Any:
    """wait_for on an event loop: `check` may be a plain or an async function."""
    deadline = time.monotonic() + timeout_s
    last: object = _NOTHING
    while True:
        try:
            last = check()
            if inspect.isawaitable(last):
                last = await last
        except transient as exc:
            last = exc
        else:
            if last:
                return last
        left = deadline - time.monotonic()
        if left <= 0:
            raise _timeout(what, timeout_s, last, log_hint)
        await asyncio.sleep(min(interval_s, left))
