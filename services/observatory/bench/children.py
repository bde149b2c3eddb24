"""What the chDB benchmarks (forecast, webanalytics) share: their work runs in child processes
(`python -m observatory.bench.<section> <kind> <folder>`) on a fresh chDB folder, because a process
can only ever open one chDB folder and the benchmark runner may already hold one; a child opens a
migrated `bench` database there and times queries as a median of runs after a warm-up."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def run_children(module: str, *kinds: str, timeout_s: float) -> dict:
    """Run `module`'s children one after the other on one fresh chDB folder; the last one's result
    (the JSON object on its last line of output)."""
    with tempfile.TemporaryDirectory(prefix=f"obs-bench-{kinds[-1]}-") as tmp:
        env = {**os.environ, "OBS_ENV": "test", "OBS_LOG_LEVEL": "WARNING"}
        out = ""
        for kind in kinds:
            proc = subprocess.run(
                [sys.executable, "-m", module, kind, tmp],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"bench child {kind} failed:\n{proc.stderr[-3000:]}")
            out = proc.stdout
        return json.loads(out.strip().splitlines()[-1])


def child_main(children: dict[str, Callable[[str], dict]]) -> None:
    """A child's entry point (`<kind> <folder>` on the command line): its result as JSON on stdout."""
    kind, folder = sys.argv[1], sys.argv[2]
    print(json.dumps(children[kind](folder)))


def bench_store(folder: str):
    """The settings of the `bench` database in the chDB folder (ten years of TTL: generated history)."""
    from observatory.settings import StoreSettings

    return StoreSettings(dsn=f"chdb://{folder}", database="bench", ttl_days=3650)


def open_store(folder: str) -> tuple[Any, Any]:
    """(settings, client) of the `bench` database in the chDB folder, migrated."""
    from observatory.store.client import connect
    from observatory.store.migrate import migrate

    store = bench_store(folder)
    client = connect(store)
    migrate(client, store)
    return store, client


def median_s(fn: Callable[[], object], runs: int = 5) -> float:
    """Median wall seconds of `runs` calls of `fn`, after one warm-up call (caches, first JIT)."""
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)
