"""The forecaster's own bounded pool for model fits, backtests and the churn fit (CPU- and
memory-heavy work), run in fit worker processes (worker.py): the serving process keeps its API,
scheduler and store, and never imports Prophet, statsmodels or scikit-learn.

Fits never run on asyncio's default thread pool, which the consumer's ClickHouse inserts and the
store queries use in all-in-one: a burst of backtests cannot starve ingest. HTTP callers do not
queue without bound either: with every worker busy and `waiting` requests already queued, `run(...,
wait=False)` raises Busy (the API answers 503 with Retry-After). The scheduler waits its turn.

Jobs are module-level functions with plain arguments (pickled to the worker). A worker that dies or
overruns `timeout_s` raises worker.WorkerFailed (counted by `on_failure`, the API answers 503) and
is replaced at the next job; a worker idle for `idle_s` is stopped (its memory returns to the
system; the next job starts a fresh one, paying the imports again: a few seconds).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from observatory.forecaster.worker import Worker, WorkerFailed


class Busy(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"every fit worker is busy; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class FitPool:
    def __init__(
        self,
        workers: int = 1,
        waiting: int = 1,
        retry_after_s: int = 15,
        timeout_s: float = 900.0,
        idle_s: float = 600.0,
        on_failure: Callable[[WorkerFailed], None] | None = None,
    ) -> None:
        self.workers, self.capacity = workers, workers + waiting
        self.retry_after_s = retry_after_s
        self.idle_s = idle_s
        self.on_failure = on_failure
        self.active = 0  # running + queued; touched from the event loop only
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="forecast-fit")
        self._free = [Worker(timeout_s, f"fit-worker-{i}") for i in range(workers)]
        self._all = list(self._free)
        self._cond = threading.Condition()
        self._closed = False
        self._reaper = threading.Thread(target=self._reap, daemon=True, name="fit-worker-reaper")
        self._reaper.start()

    async def run(self, fn, *args, wait: bool = True, **kwargs):
        """Run fn(*args, **kwargs) in a fit worker (from the event loop)."""
        return await self.here(self.call, fn, *args, wait=wait, **kwargs)

    async def here(self, fn, *args, wait: bool = True, **kwargs):
        """Run fn(*args, **kwargs) in one of the pool's threads, in this process: for a job that
        reads the store first and then hands the computation to a worker with `call`."""
        if not wait and self.active >= self.capacity:
            raise Busy(self.retry_after_s)
        self.active += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.active -= 1

    def call(self, fn, *args, **kwargs):
        """Run fn(*args, **kwargs) in a fit worker, blocking (from a thread); waits for a free worker."""
        with self._cond:
            while not self._free:
                if self._closed:
                    raise WorkerFailed("closed", "the fit pool is shut down")
                self._cond.wait()
            if self._closed:
                raise WorkerFailed("closed", "the fit pool is shut down")
            worker = self._free.pop()
        try:
            return worker.call(fn, args, kwargs)
        except WorkerFailed as exc:
            if self.on_failure is not None:
                self.on_failure(exc)
            raise
        finally:
            with self._cond:
                self._free.append(worker)
                self._cond.notify()

    def peak_rss_bytes(self) -> int:
        """The largest peak RSS a fit worker reported (its own, without the Stan processes)."""
        return max((w.peak_rss_bytes for w in self._all), default=0)

    def pids(self) -> list[int]:
        return [pid for w in self._all if (pid := w.pid) is not None]

    def _reap(self) -> None:
        import time

        while True:
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(min(self.idle_s, 5.0))
                if self._closed:
                    return
                idle = [w for w in self._free if w.pid is not None and time.monotonic() - w.last_used >= self.idle_s]
                for w in idle:
                    self._free.remove(w)
            for w in idle:
                w.stop()
                with self._cond:
                    self._free.append(w)
                    self._cond.notify()

    def close(self) -> None:
        """Stop every worker (a running job fails with WorkerFailed) and the threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for w in self._all:
            w.stop(kill=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
