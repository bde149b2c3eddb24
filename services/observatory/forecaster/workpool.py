"""The forecaster's own bounded pool for model fits and backtests (CPU-heavy Prophet work).

Fits never run on asyncio's default thread pool, which the consumer's ClickHouse inserts and the
store queries use in all-in-one: a burst of backtests cannot starve ingest. HTTP callers do not
queue without bound either: with every worker busy and `waiting` requests already queued, `run(...,
wait=False)` raises Busy (the API answers 503 with Retry-After). The scheduler waits its turn.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor


class Busy(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"every fit worker is busy; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class FitPool:
    def __init__(self, workers: int = 1, waiting: int = 1, retry_after_s: int = 15) -> None:
        self.workers, self.capacity = workers, workers + waiting
        self.retry_after_s = retry_after_s
        self.active = 0  # running + queued; touched from the event loop only
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="forecast-fit")

    async def run(self, fn, *args, wait: bool = True, **kwargs):
        if not wait and self.active >= self.capacity:
            raise Busy(self.retry_after_s)
        self.active += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.active -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
