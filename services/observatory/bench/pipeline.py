"""Pipeline benchmark: ingest throughput and latency, consumer rows/s, accepted → queryable latency,
memory; each beside a ceiling measured in the same run with the fastest client available
(bench/ceilings.py: pika publish/consume, a bare ASGI app under the same HTTP server, a raw chDB
insert), plus the validation micro-benchmark, uvicorn against Granian, and a latency-vs-throughput
chart (latency.png next to report.md).

Load comes from Debian's `wrk` (C, little CPU) on loopback; servers are real processes: a private
RabbitMQ node, `observatory run ingest --workers 2` (and the same app under Granian),
`observatory run consumer` over embedded ClickHouse.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import psutil

from observatory.bench import ceilings, latency, profile, servers, validation
from observatory.broker import topology
from observatory.broker.publisher import encode_batch
from observatory.events import Rejection, ValidatedEvent, Validator
from observatory.events_io import load_schema, new_event_id
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.rabbitmq import RabbitNode
from observatory.settings import BrokerSettings, default_schema_path
from observatory.store.subprocess_query import query_rows

S = "pipeline"
KEY = "obs_bench_key_0d9a51"
SINGLE = validation.MINIMAL  # the one-event body the load benchmarks post


def _lua(body: str, delay_ms: float | None = None) -> str:
    script = (
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {KEY}"\nwrk.body = {json.dumps(body)}\n'
    )
    if delay_ms:
        script += f"function delay() return {delay_ms} end\n"
    return script


def paced(url: str, script: Path, body: str, rate: float, connections: int, seconds: int) -> dict:
    """Approximately constant rate with wrk: each connection waits `delay` between requests. Short
    calibration runs measure the response time so that connections * 1000 / (delay + latency) = rate;
    a second one corrects the first (the latency itself changes with the rate), unless the first
    reached the rate within 3%."""
    period = connections * 1000 / rate  # ms between two requests of one connection
    delay = period
    for _ in range(2):
        script.write_text(_lua(body, delay_ms=round(delay, 2)))
        probe = wrk(url, script, connections, 3)
        if abs(probe["rps"] - rate) <= 0.03 * rate:
            break
        latency = max(0.0, connections * 1000 / probe["rps"] - delay)
        delay = max(0.1, period - latency)
    script.write_text(_lua(body, delay_ms=round(delay, 2)))
    return wrk(url, script, connections, seconds)


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out[-2000:]}")
    rps = float(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(0) if errors else "",
        "raw": out,
    }


async def raw_publish_rate(url: str, broker: BrokerSettings, body: bytes, n: int, window: int = 500) -> float:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex, _, _ = await topology.declare(ch, broker)
        sem = asyncio.Semaphore(window)

        async def one():
            async with sem:
                await ex.publish(aio_pika.Message(body=body, delivery_mode=2), routing_key=topology.ROUTING_KEY)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)


async def purge(url: str, queue: str) -> None:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        await (await ch.get_queue(queue)).purge()


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total = max(total, psutil.Process(pid).memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            pass
    return total


def anon_mb(pid: int) -> float:
    """Anonymous resident memory (RssAnon): RSS without the file-backed pages, such as the 555 MB
    chDB library mapped into the process, which are shared and can be dropped by the kernel."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")


def metric(url: str, name: str) -> float:
    text = httpx.get(url, timeout=5).text
    m = re.search(rf"^{re.escape(name)} ([\d.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def run(report, workdir: Path | None = None, seconds: int = 10) -> None:
    work = Path(workdir or Path.cwd() / ".bench" / "pipeline")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    validation.run(report)
    node = RabbitNode(work / "rabbitmq", name="bench").start()
    procs: list[subprocess.Popen] = []
    try:
        _run(report, work, node, procs, seconds)
    finally:
        for p in procs:
            servers.stop(p)
        node.destroy()


def _env(node: RabbitNode, work: Path, broker: BrokerSettings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")}
    env.update(
        {
            "OBS_ENV": "development",
            "OBS_AMQP_URL": node.url,
            "OBS_AMQP_MAX_LENGTH": str(broker.max_length),
            "OBS_INGEST_API_KEYS": f"bench:sha256:{hashlib.sha256(KEY.encode()).hexdigest()}",
            "OBS_INGEST_RATE_LIMIT_EVENTS_PER_S": "1e9",
            "OBS_INGEST_RATE_LIMIT_BURST": "1e9",
            "OBS_CLICKHOUSE_DSN": f"chdb://{work / 'chdb'}",
            "OBS_CLICKHOUSE_DATABASE": "bench",
        }
    )
    return env


def _run(report, work: Path, node: RabbitNode, procs: list, seconds: int) -> None:
    broker = BrokerSettings(url=node.url, max_length=50_000_000)
    ceiling_broker = BrokerSettings(
        url=node.url,
        exchange="ceiling",
        queue="ceiling",
        dead_letter_exchange="ceiling.dlx",
        dead_letter_queue="ceiling.dead",
    )
    schema = Validator(load_schema(default_schema_path()), new_id=new_event_id)
    now = datetime.now(UTC)
    one = _valid([schema.validate(SINGLE, now, "bench")])
    hundred = _valid(schema.validate_many(validation.typical_events(), now, "bench"))
    small_body, batch_body = encode_batch(one).body, encode_batch(hundred).body

    print("broker ceilings (pika, 1,000 unconfirmed) ...", flush=True)
    asyncio.run(_declare(node.url, ceiling_broker))
    pub1 = ceilings.pika_publish_rate(node.url, ceiling_broker.exchange, topology.ROUTING_KEY, small_body, 40_000)
    pub100 = ceilings.pika_publish_rate(node.url, ceiling_broker.exchange, topology.ROUTING_KEY, batch_body, 5_000)
    consume = ceilings.pika_consume_rate(node.url, ceiling_broker.queue, 40_000)
    aio = asyncio.run(raw_publish_rate(node.url, ceiling_broker, small_body, 10_000))
    report.add(
        S,
        "ceiling: raw publish, 1-event messages",
        pub1,
        "msg/s",
        note=f"pika SelectConnection, persistent, confirms pipelined (1,000 unconfirmed); "
        f"aio-pika with 500: {aio:,.0f} msg/s",
    )
    report.add(S, "ceiling: raw publish, 100-event messages", pub100 * 100, "events/s", note=f"{pub100:,.0f} msg/s")
    report.add(S, "ceiling: raw consume (prefetch 1000, multiple ack per 100)", consume, "msg/s", note="pika")
    asyncio.run(purge(node.url, ceiling_broker.queue))

    env = _env(node, work, broker)
    single, batch = work / "single.lua", work / "batch.lua"
    single.write_text(_lua(json.dumps(SINGLE)))
    batch.write_text(
        _lua(json.dumps([{k: v for k, v in e.items() if k not in ("received_at", "source")} for e in hundred]))
    )
    results: dict[str, dict[str, Any]] = {}
    for server in servers.SERVERS:  # same load, same run: the HTTP ceiling and ingest under each server;
        # uvicorn (what `observatory run ingest` uses) comes last and stays up with its batch run queued
        print(f"HTTP under {server}: bare app, single POSTs, batch POSTs ...", flush=True)
        bare, base = servers.start(
            server, "observatory.bench.servers:app", env, work / f"bare-{server}.log", access_log=False
        )
        wrk(base + "/", single, 16, 2)
        ceiling = wrk(base + "/", single, 64, seconds)
        servers.stop(bare)
        proc, base = servers.start(
            server, "observatory.cli.run:ingest_public_app_from_env", env, work / f"ingest-{server}.log", factory=True
        )
        procs.append(proc)
        url = f"{base}/v1/events"
        wrk(url, single, 16, 2)  # warm-up
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        spy = profile.start(report, workers[-1], seconds - 1, f"ingest-single-{server}")
        r1 = wrk(url, single, 64, seconds)
        profile.finish(spy)
        asyncio.run(purge(node.url, broker.queue))
        spy = profile.start(report, workers[-1], seconds - 1, f"ingest-batch-{server}")
        r100 = wrk(url, batch, 16, seconds)
        profile.finish(spy)
        results[server] = {
            "bare": ceiling,
            "single": r1,
            "batch": r100,
            "rss": rss_mb(workers),
            "proc": proc,
            "url": url,
        }
        report.add(
            S,
            f"HTTP ceiling: bare ASGI app under {server}",
            ceiling["rps"],
            "req/s",
            note=f"2 workers, 64 connections, p99 {ceiling['p99']:.1f} ms; no access log",
        )
        report.add(
            S,
            f"single-event POST throughput ({server})",
            r1["rps"],
            "events/s",
            target=">= 10,000",
            ceiling=ceiling["rps"],
            note=f"2 ingest workers, 64 connections, p99 {r1['p99']:.1f} ms, "
            f"non-2xx {r1['non2xx']}; ceiling: bare app, same server",
        )
        report.add(
            S,
            f"100-event batch POST throughput ({server})",
            r100["rps"] * 100,
            "events/s",
            target=">= 250,000",
            ceiling=pub100 * 100,
            note=f"p99 {r100['p99']:.1f} ms (target <= 100 ms), non-2xx {r100['non2xx']}; "
            "ceiling: pika publish of 100-event messages",
        )
        if server != "uvicorn":
            servers.stop(proc)
            asyncio.run(purge(node.url, broker.queue))
    prod = results["uvicorn"]
    url = prod["url"]
    report.add(S, "ingest worker RSS (max of workers, after load)", prod["rss"], "MB", target="<= 100 MB")
    report.add(S, "100-event batch POST p99 (uvicorn)", prod["batch"]["p99"], "ms", target="<= 100 ms")
    asyncio.run(purge(node.url, broker.queue))  # same start as the native batch run: an empty queue
    _posthog_batch(
        report, url.rsplit("/v1/events", 1)[0], work, hundred, native=prod["batch"]["rps"] * 100, seconds=seconds
    )

    _consumer(report, work, node, broker, env, procs, url, seconds)
    servers.stop(prod["proc"])
    asyncio.run(purge(node.url, broker.queue))
    _all_in_one(report, work, env, seconds)


def _all_in_one(report, work: Path, env: dict, seconds: int) -> None:
    """`observatory run all-in-one` (ingest + consumer + forecaster, embedded ClickHouse) under
    single-event POSTs at ~10,000/s: its resident memory."""
    print("all-in-one under ~10,000 events/s ...", flush=True)
    port = free_port()
    log = work / "all-in-one.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "observatory.cli", "run", "all-in-one"],
        env={
            **env,
            "OBS_INGEST_PORT": str(port),
            "OBS_INGEST_PRIVATE_PORT": str(free_port()),
            "OBS_CLICKHOUSE_DSN": f"chdb://{work / 'chdb-aio'}",
        },
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(
            "all-in-one ready",
            lambda: httpx.get(f"{base}/health/ready", timeout=1).status_code == 200,
            120,
            alive=lambda: proc.poll() is None,
            log_hint=f"see {log}",
        )
        idle = rss_mb([proc.pid])
        peak = [idle]
        r = paced(f"{base}/v1/events", work / "paced.lua", json.dumps(SINGLE), 10_000, 64, seconds)
        peak.append(rss_mb([proc.pid]))
        anon = anon_mb(proc.pid)
        time.sleep(2)  # the consumer's last flushes
        peak.append(rss_mb([proc.pid]))
        report.add(
            S,
            "all-in-one process RSS under load",
            max(peak),
            "MB",
            target="<= 600 MB",
            note=f"{idle:.0f} MB when ready; single-event POSTs at ~{r['rps']:,.0f}/s offered 10,000/s, "
            f"p99 {r['p99']:.0f} ms; embedded ClickHouse, consumer and forecaster in the process; "
            f"anonymous memory {anon:.0f} MB",
        )
    finally:
        servers.stop(proc)


def _consumer(
    report, work: Path, node: RabbitNode, broker: BrokerSettings, env: dict, procs: list, url: str, seconds: int
) -> None:
    queued = asyncio.run(_depth(node.url, broker.queue))
    bodies = asyncio.run(_peek(node.url, broker.queue, 1000))
    print(f"consumer draining {queued:,} messages ...", flush=True)
    cport = free_port()
    consumer = subprocess.Popen(
        [sys.executable, "-m", "observatory.cli", "run", "consumer"],
        env={**env, "OBS_CONSUMER_METRICS_PORT": str(cport), "OBS_CONSUMER_PORT": str(free_port())},
        stdout=open(work / "consumer.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    procs.append(consumer)
    murl = f"http://127.0.0.1:{cport}/metrics"
    wait_for("consumer metrics", lambda: httpx.get(murl, timeout=1).status_code == 200, 60)
    idle_rss = rss_mb([consumer.pid])
    wait_for("first insert", lambda: metric(murl, "consumer_rows_inserted_total") > 0, 120, interval_s=0.05)
    spy = profile.start(report, consumer.pid, 5, "consumer")
    cpu = psutil.Process(consumer.pid)
    cpu0 = sum(cpu.cpu_times()[:2])
    t0, rows0 = time.perf_counter(), metric(murl, "consumer_rows_inserted_total")
    wait_for("queue drained", lambda: asyncio.run(_depth(node.url, broker.queue)) == 0, 900, interval_s=0.2)
    wait_for(
        "last insert", lambda: metric(murl, "consumer_rows_inserted_total") >= queued * 100 * 0.999, 60, interval_s=0.05
    )
    rows = metric(murl, "consumer_rows_inserted_total") - rows0
    rate = rows / (time.perf_counter() - t0)
    profile.finish(spy)
    cpu_us = (sum(cpu.cpu_times()[:2]) - cpu0) / max(rows, 1) * 1e6
    drained_rss, drained_anon = rss_mb([consumer.pid]), anon_mb(consumer.pid)
    raw = ceilings.chdb_insert_rate(work, bodies)
    report.add(
        S,
        "consumer rows into ClickHouse",
        rate,
        "rows/s",
        target=">= 150,000 and >= 0.6 x ceiling",
        ceiling=max(raw.values()),
        note=f"ceiling: raw chDB insert of the same events, no broker: JSONEachRow {raw['json']:,.0f} rows/s, "
        f"Native from Python rows {raw['native']:,.0f} rows/s; consumer CPU {cpu_us:.1f} us/row "
        "(process incl. the embedded engine: the figure least moved by other load)",
    )
    report.add(
        S,
        "consumer RSS (after draining)",
        drained_rss,
        "MB",
        target="<= 200 MB",
        note=f"embedded ClickHouse (chDB) inside the process; {idle_rss:.0f} MB right after start, "
        f"+{drained_rss - idle_rss:.0f} MB while consuming; anonymous memory (RSS without mapped files such as "
        f"the chDB library) {drained_anon:.0f} MB",
    )

    print("single-event POST p99 at ~8,000 events/s; latency against throughput ...", flush=True)
    r = paced(url, work / "paced.lua", json.dumps(SINGLE), 8000, 64, seconds)
    report.add(
        S,
        "single-event POST p99 at ~8,000 events/s",
        r["p99"],
        "ms",
        target="<= 50 ms",
        note=f"achieved {r['rps']:,.0f} req/s (wrk, calibrated think time), p50 {r['p50']:.1f} ms; consumer running",
    )
    points = latency.sweep(paced, url, work, json.dumps(SINGLE), seconds=max(3, seconds // 2))
    png = latency.chart(
        points,
        report.out_dir / "latency.png",
        "single-event POSTs, 2 uvicorn ingest workers, consumer running, all on 2 cores",
    )
    report.add(
        S,
        "latency vs throughput chart",
        len(points),
        "steps",
        note=f"{png}: " + ", ".join(f"{p['achieved']:,.0f}/s p99 {p['p99']:.0f} ms" for p in points),
    )

    print("accepted -> queryable at ~10,000 events/s ...", flush=True)
    wait_for("queue drained", lambda: asyncio.run(_depth(node.url, broker.queue)) == 0, 300, interval_s=0.2)
    started = time.time()
    r = paced(url, work / "paced.lua", json.dumps(SINGLE), 10_000, 64, seconds)
    wait_for("queue drained", lambda: asyncio.run(_depth(node.url, broker.queue)) == 0, 300, interval_s=0.2)
    time.sleep(1.5)
    servers.stop(consumer)
    (stats,) = query_rows(
        f"chdb://{work / 'chdb'}",
        "SELECT count() AS n, quantile(0.5)(toFloat64(inserted_at - received_at)) AS p50, "
        "quantile(0.99)(toFloat64(inserted_at - received_at)) AS p99 FROM bench.events "
        f"WHERE received_at >= toDateTime64({started - 1}, 3)",
        env,
        timeout_s=120,
    )
    report.add(
        S,
        "accepted -> queryable p99",
        stats["p99"],
        "s",
        target="<= 1 s at 10,000 events/s",
        note=f"{stats['n']:,} events at ~{r['rps']:,.0f}/s, p50 {stats['p50']:.2f} s, consumer flush 500 ms",
    )


async def _declare(url: str, broker: BrokerSettings) -> None:
    conn = await aio_pika.connect(url)
    async with conn:
        await topology.declare(await conn.channel(), broker)


async def _peek(url: str, queue: str, n: int) -> list[bytes]:
    """Copies of the first n queued bodies (requeued), for the raw insert ceiling."""
    conn = await aio_pika.connect(url)
    bodies = []
    async with conn:
        ch = await conn.channel()
        await ch.set_qos(prefetch_count=n)
        q = await ch.get_queue(queue)
        for _ in range(n):
            msg = await q.get(fail=False, no_ack=False)
            if msg is None:
                break
            bodies.append(msg.body)
        await ch.close()  # unacked: back to the queue
    return bodies


def _posthog_batch(report, base: str, work: Path, events: list[dict], native: float, seconds: int) -> None:
    """The same 100 events as posthog-python sends them to /batch/ (gzip, key in the body), beside the
    native 100-event batch of this run (the `ceiling` column: ratio = SDK door / native door)."""
    import gzip

    print("100-event PostHog /batch gzip POST ...", flush=True)
    batch = [
        {
            "event": e["event_name"],
            "distinct_id": e["user_id"],
            "uuid": e["event_id"],
            "timestamp": e["timestamp"],
            "properties": {**e["properties"], "$session_id": e["session_id"], "$lib": "posthog-python"},
        }
        for e in events
    ]
    body = work / "posthog-batch.json.gz"
    body.write_bytes(gzip.compress(json.dumps({"api_key": KEY, "batch": batch}).encode()))
    script = work / "posthog.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Content-Encoding"] = "gzip"\n'
        f'local f = io.open({json.dumps(str(body))}, "rb")\nwrk.body = f:read("*all")\nf:close()\n'
    )
    r = wrk(f"{base}/batch/", script, 16, seconds)
    report.add(
        S,
        "100-event PostHog /batch gzip POST throughput",
        r["rps"] * 100,
        "events/s",
        target=">= 80% of the native batch",
        ceiling=native,
        note=f"SDK door vs native 100-event batch in this run; p99 {r['p99']:.1f} ms, non-2xx {r['non2xx']}",
    )
    report.add(S, "100-event PostHog /batch gzip POST p99", r["p99"], "ms", target="<= 100 ms")


def _valid(results: list[ValidatedEvent | Rejection]) -> list[ValidatedEvent]:
    """The benchmark's events, every one valid (a Rejection must not be sent as an event)."""
    rejected = [r for r in results if isinstance(r, Rejection)]
    if rejected:
        raise RuntimeError(f"benchmark events rejected by the schema: {rejected}")
    return [r for r in results if not isinstance(r, Rejection)]


async def _depth(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        count = (await ch.declare_queue(queue, passive=True)).declaration_result.message_count
        assert count is not None  # a passive declare answers with the count
        return count
