"""A fit worker: a child process that runs the forecaster's heavy jobs (model selection, backtests,
the churn fit), so the serving process never imports Prophet, statsmodels or scikit-learn and never
holds a fit's working memory. Plain data goes in and out over a socket (pickled); the child cannot
open the store (chDB lets one process hold a data folder), it only computes.

  parent                                      child (`python -m observatory.forecaster.worker FD PID`)
  Worker.call(fn, args) --(fn, args, kwargs)-->  runs fn (a module-level function)
                        <--(ok|error, value, peak RSS bytes)--

Failure handling:
- the child dies (OOM kill, crash): the parent sees EOF at once and raises WorkerFailed("died");
- a job runs longer than `timeout_s`: the child (and its process group: cmdstanpy's Stan
  processes) is killed and WorkerFailed("timeout") raised; the next call starts a fresh child;
- the parent dies (even SIGKILL): the child notices its parent changed within a second and kills
  its own process group, so no worker outlives the forecaster;
- an exception inside the job comes back as itself (it must pickle; else a RuntimeError naming it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any

PARENT_CHECK_S = 0.5


class WorkerFailed(RuntimeError):
    """The fit worker died or overran its time limit (the job's result is lost)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"fit worker {reason}: {detail}")
        self.reason = reason


class Worker:
    """One child process, started on first use and again after a failure or an idle stop. Not
    thread-safe: the pool hands a worker to one caller at a time."""

    def __init__(self, timeout_s: float, name: str = "fit-worker") -> None:
        self.timeout_s = timeout_s
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.last_used = time.monotonic()
        self.peak_rss_bytes = 0  # the child's own peak (ru_maxrss) at its last answer
        self.started = 0  # children started so far (tests, logs)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "observatory.forecaster.worker", str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a kill reaches Stan's processes too
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.started += 1

    def call(self, fn, args: tuple = (), kwargs: dict | None = None) -> Any:
        if self.proc is None or self.proc.poll() is not None:
            self.stop()
            self._start()
        assert self.conn is not None and self.proc is not None
        self.last_used = time.monotonic()
        try:
            try:
                self.conn.send((fn, args, kwargs or {}))
            except OSError as exc:  # the child is gone
                raise self._failed("died", f"{exc}") from None
            conn = self.conn
            try:
                ready = wait([conn], self.timeout_s)
            except (OSError, ValueError):  # closed by FitPool.close from another thread
                ready = [conn]
            if not ready:
                raise self._failed("timeout", f"no answer within {self.timeout_s:g} s")
            try:
                status, value, peak = conn.recv()
            except (EOFError, OSError):
                raise self._failed("died", "connection closed") from None
        finally:
            self.last_used = time.monotonic()
        self.peak_rss_bytes = max(self.peak_rss_bytes, peak)
        if status == "error":
            raise value
        return value

    def _failed(self, reason: str, detail: str) -> WorkerFailed:
        code = self.stop(kill=True)
        return WorkerFailed(reason, f"{detail} (exit code {code})")

    def stop(self, kill: bool = False) -> int | None:
        """End the child: closing the socket makes an idle child exit; `kill` (or no exit within 5 s)
        kills its process group. Returns its exit code (None when there was none)."""
        conn, self.conn = self.conn, None
        proc, self.proc = self.proc, None
        if proc is not None and not kill and conn is not None:
            conn.close()
            try:
                return proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if conn is not None and not conn.closed:
            conn.close()
        return None if proc is None else proc.wait()


# -- the child -------------------------------------------------------------------------------------
def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os.killpg(0, signal.SIGKILL)  # the parent is gone: end this worker and its Stan processes


def _peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def serve(conn: Connection, parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the socket: stop
        try:
            answer: tuple = ("ok", fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the parent re-raises it
            answer = ("error", exc)
        try:
            conn.send((*answer, _peak_rss_bytes()))
        except Exception as exc:  # noqa: BLE001 - the value or the exception does not pickle
            conn.send(("error", RuntimeError(f"{type(answer[1]).__name__} from the fit worker: {exc}"), 0))


def main(argv: list[str]) -> None:
    import logging

    level = os.environ.get("OBS_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level if level in logging.getLevelNamesMapping() else "WARNING", stream=sys.stderr)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    serve(Connection(int(argv[1])), int(argv[2]))


if __name__ == "__main__":
    main(sys.argv)
