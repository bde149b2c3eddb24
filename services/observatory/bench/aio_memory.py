"""The all-in-one's memory when its forecaster works: `observatory run all-in-one` (ingest, consumer
and forecaster in one process over one embedded chDB) started on a store holding 1M events of the
90 days before now, so its first scheduler tick fits the four daily models and the monthly churn
model at once. Its RSS is sampled every 0.2 s from start until the tick's churn run is logged, and
so is the fit worker's (the process's children). No ingest traffic meanwhile: "all-in-one RSS
under load" (pipeline section) is the other case, a fresh store taking ~10,000 events/s.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from observatory.bench.children import child_main, open_store
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.rabbitmq import RabbitNode

EVENTS = 1_000_000
DAYS = 90
DONE = ("churn scored", "no churn model yet", "churn scoring failed")


def _child_seed(folder: str) -> dict:
    from observatory.bench.forecast import GENERATE

    store, client = open_store(folder)
    start = (datetime.now(UTC) - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    client.command(
        GENERATE.format(
            db=store.database,
            start=start.strftime("%Y-%m-%d %H:%M:%S"),
            span_ms=DAYS * 86_400_000,
            n=EVENTS,
            users=50_000,
        )
    )
    client.close()
    return {}


def _rss(proc: psutil.Process) -> tuple[float, float, float]:
    """(the process's RSS, its anonymous part, the largest child's RSS) in MB."""
    try:
        rss = proc.memory_info().rss
        kids = [c.memory_info().rss for c in proc.children(recursive=True)]
        return rss / 2**20, _anon(proc.pid), max(kids, default=0) / 2**20
    except (psutil.Error, OSError):
        return 0.0, 0.0, 0.0


def _anon(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) / 1024 for line in f if line.startswith("RssAnon:")), 0.0)


def measure(work: Path, timeout_s: float = 900) -> dict:
    folder = work / "chdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")}
    env.update({"OBS_ENV": "test", "OBS_LOG_LEVEL": "INFO"})
    seed = subprocess.run(
        [sys.executable, "-m", "observatory.bench.aio_memory", "seed", str(folder)],
        env={**env, "OBS_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if seed.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{seed.stderr[-3000:]}")
    node = RabbitNode(work / "rabbitmq", name="aio").start()
    log = work / "all-in-one.log"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "observatory.cli", "run", "all-in-one"],
            env={
                **env,
                "OBS_AMQP_URL": node.url,
                "OBS_INGEST_PORT": str(free_port()),
                "OBS_INGEST_PRIVATE_PORT": str(free_port()),
                "OBS_CLICKHOUSE_DSN": f"chdb://{folder}",
                "OBS_CLICKHOUSE_DATABASE": "bench",
                "OBS_CLICKHOUSE_TTL_DAYS": "3650",
                "OBS_INGEST_API_KEYS": f"bench:sha256:{hashlib.sha256(b'aio-bench-key').hexdigest()}",
            },
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
        )
        ps = psutil.Process(proc.pid)
        peak = {"rss": 0.0, "anon": 0.0, "worker": 0.0}
        started = time.monotonic()

        def done() -> bool:
            rss, anon, worker = _rss(ps)
            peak["rss"], peak["anon"] = max(peak["rss"], rss), max(peak["anon"], anon)
            peak["worker"] = max(peak["worker"], worker)
            return any(d in log.read_text(errors="replace") for d in DONE)

        try:
            wait_for("the first tick's churn run", done, timeout_s, interval_s=0.2, alive=lambda: proc.poll() is None)
            end = time.monotonic() + 3  # the tick's last steps (reports are not due)
            while time.monotonic() < end:
                done()
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(60)
        text = log.read_text(errors="replace")
        return {
            **peak,
            "seconds": time.monotonic() - started,
            "fits": text.count('"model fitted"'),
            "churn": "churn scored" in text,
        }
    finally:
        node.destroy()


def run(report) -> None:
    with tempfile.TemporaryDirectory(prefix="obs-bench-aio-") as tmp:
        m = measure(Path(tmp))
    report.add(
        "forecast",
        "all-in-one peak RSS, first tick over 1M stored events (process)",
        m["rss"],
        "MB",
        target="<= 600 MB",
        note=f"ingest + consumer + forecaster in one process, {m['fits']} daily models fitted, churn "
        f"{'scored' if m['churn'] else 'NOT scored'}, {m['seconds']:.0f} s from start; anonymous "
        f"{m['anon']:.0f} MB; its fit worker (a child) peaked at {m['worker']:.0f} MB (sampled every 0.2 s)",
    )


if __name__ == "__main__":
    if sys.argv[1] == "measure":  # by hand: python -m observatory.bench.aio_memory measure <empty dir>
        print(measure(Path(sys.argv[2])))
    else:
        child_main({"seed": _child_seed})
