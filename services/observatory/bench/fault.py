"""Fault benchmark: a 3-node RabbitMQ cluster (quorum events queue), `observatory run ingest` and
`observatory run consumer` given all three addresses; events stream in 10-event batches while the
node leading the queue is SIGKILLed. Reports events/s accepted across the run, the longest window of
503 answers, the time from the kill to the first 2xx, and lost / duplicated accepted events.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aio_pika
import httpx

from observatory.localstack.cluster import RabbitCluster
from observatory.localstack.proc import free_port, wait_for
from observatory.process import stop_process
from observatory.store.subprocess_query import query_rows

KEY = "obs_bench_key_fault_7c21"
S = "fault"


def run(report, workdir: Path | None = None, before_s: float = 8, after_s: float = 15) -> None:
    work = Path(workdir or Path.cwd() / ".bench" / "fault")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print("starting a 3-node RabbitMQ cluster ...", flush=True)
    cluster = RabbitCluster(work / "cluster", size=3, name="bench").start(timeout_s=240)
    procs: list[subprocess.Popen] = []
    try:
        _run(report, work, cluster, procs, before_s, after_s)
    finally:
        for p in procs:
            stop_process(p)
        cluster.destroy()


def _run(report, work: Path, cluster: RabbitCluster, procs: list, before_s: float, after_s: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")}
    env.update(
        {
            "OBS_ENV": "development",
            "OBS_AMQP_URL": ",".join(cluster.urls),
            "OBS_AMQP_QUEUE_TYPE": "quorum",
            "OBS_INGEST_API_KEYS": f"bench:sha256:{hashlib.sha256(KEY.encode()).hexdigest()}",
            "OBS_INGEST_RATE_LIMIT_EVENTS_PER_S": "1e9",
            "OBS_INGEST_RATE_LIMIT_BURST": "1e9",
            "OBS_CLICKHOUSE_DSN": f"chdb://{work / 'chdb'}",
            "OBS_CLICKHOUSE_DATABASE": "bench",
        }
    )
    port, cport = free_port(), free_port()
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "observatory.cli", "run", "ingest"],
            env={**env, "OBS_INGEST_PORT": str(port), "OBS_INGEST_PRIVATE_PORT": str(free_port())},
            stdout=open(work / "ingest.log", "wb"),
            stderr=subprocess.STDOUT,
        )
    )
    consumer = subprocess.Popen(
        [sys.executable, "-m", "observatory.cli", "run", "consumer"],
        env={
            **env,
            "OBS_CONSUMER_METRICS_PORT": str(cport),
            "OBS_CONSUMER_PORT": str(free_port()),
            "OBS_CONSUMER_FLUSH_MS": "100",
        },
        stdout=open(work / "consumer.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    procs.append(consumer)
    base = f"http://127.0.0.1:{port}"
    wait_for("ingest ready", lambda: httpx.get(f"{base}/health/ready", timeout=1).status_code == 200, 60)
    wait_for(
        "consumer ready", lambda: httpx.get(f"http://127.0.0.1:{cport}/health/ready", timeout=1).status_code == 200, 60
    )

    accepted: list[str] = []
    statuses: list[tuple[float, float, int]] = []
    killed: dict = {}

    async def stream() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as http:

            async def sender():
                while not stop.is_set():
                    batch = [{"event_name": "x", "user_id": "u", "event_id": str(uuid.uuid4())} for _ in range(10)]
                    sent = time.monotonic()
                    try:
                        code = (await http.post("/v1/events", json=batch)).status_code
                    except httpx.HTTPError:
                        code = 0
                    statuses.append((sent, time.monotonic(), code))
                    if code == 202:
                        accepted.extend(e["event_id"] for e in batch)
                    else:
                        await asyncio.sleep(0.05)

            tasks = [asyncio.create_task(sender()) for _ in range(8)]
            started = time.monotonic()
            await asyncio.sleep(before_s)
            leader = await asyncio.to_thread(cluster.leader, "events")
            killed.update(node=leader, at=time.monotonic())
            await asyncio.to_thread(cluster.kill, leader)
            await asyncio.sleep(after_s)
            stop.set()
            await asyncio.gather(*tasks)
            killed["elapsed"] = time.monotonic() - started

    print(f"streaming {before_s:.0f} s, killing the queue leader, streaming {after_s:.0f} s more ...", flush=True)
    asyncio.run(stream())
    survivors = [n.url for n in cluster.nodes if n is not killed["node"]]
    wait_for("queue drained", lambda: asyncio.run(_depth(survivors[0], "events")) == 0, 300, interval_s=0.5)
    time.sleep(1.0)
    consumer.terminate()
    consumer.wait(60)
    sql = "SELECT toString(event_id) AS id, count() AS n FROM bench.events FINAL GROUP BY id"
    counts = {r["id"]: r["n"] for r in query_rows(f"chdb://{work / 'chdb'}", sql, env)}
    ids = set(accepted)
    lost = len(ids - counts.keys())
    dupes = sum(1 for i in ids if counts.get(i, 0) > 1)

    windows, opened = [], None
    for _, done, code in sorted(statuses, key=lambda s: s[1]):
        if code != 202 and opened is None:
            opened = done
        elif code == 202 and opened is not None:
            windows.append(done - opened)
            opened = None
    first_ok = min((d for s, d, c in statuses if s >= killed["at"] and c == 202), default=float("nan"))
    failed = sum(1 for *_, c in statuses if c != 202)
    report.add(
        S,
        "events/s accepted while the queue leader is killed",
        len(ids) / killed["elapsed"],
        "events/s",
        note=f"1 ingest worker, 8 senders of 10-event batches, {killed['elapsed']:.0f} s, "
        f"{len(ids):,} accepted, {failed} requests answered non-2xx",
    )
    report.add(
        S,
        "longest 503 window (leader SIGKILL)",
        max(windows, default=0.0),
        "s",
        note=f"first 2xx {first_ok - killed['at']:.2f} s after the kill; lost {lost}, duplicates {dupes} (must be 0)",
    )


async def _depth(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        count = (await ch.declare_queue(queue, passive=True)).declaration_result.message_count
        assert count is not None  # a passive declare answers with the count
        return count
