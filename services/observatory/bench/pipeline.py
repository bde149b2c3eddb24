"""Pipeline benchmark: ingest throughput and latency, consumer rows/s, accepted → queryable latency,
memory; each beside a ceiling measured in the same run (raw broker publish/consume, raw insert).

Load comes from Debian's `wrk` (C, little CPU) on loopback; servers are real processes: a private
RabbitMQ node, `observatory run ingest --workers 2`, `observatory run consumer` over embedded ClickHouse.
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
from pathlib import Path

import aio_pika
import httpx
import psutil

from observatory.broker import topology
from observatory.broker.publisher import encode_batch
from observatory.demo.generator import Webshop
from observatory.events import Validator, load_schema
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.rabbitmq import RabbitNode
from observatory.settings import BrokerSettings, default_schema_path

KEY = "obs_bench_key_0d9a51"
SINGLE = {"event_name": "product_viewed", "user_id": "u-1", "session_id": "s-1",
          "properties": {"product_id": "p-1", "price": 12.5, "category": "shoes"}}


def _lua(body: str, delay_ms: float | None = None) -> str:
    script = (f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
              f'wrk.headers["Authorization"] = "Bearer {KEY}"\nwrk.body = {json.dumps(body)}\n')
    if delay_ms:
        script += f"function delay() return {delay_ms} end\n"
    return script


def paced(url: str, script: Path, body: str, rate: float, connections: int, seconds: int) -> dict:
    """Approximately constant rate with wrk: each connection waits `delay` between requests. A short
    calibration run measures the response time so that connections * 1000 / (delay + latency) = rate."""
    delay = connections * 1000 / rate
    script.write_text(_lua(body, delay_ms=round(delay, 2)))
    probe = wrk(url, script, connections, 3)
    latency = max(0.0, connections * 1000 / probe["rps"] - delay)
    script.write_text(_lua(body, delay_ms=round(max(0.1, delay - latency), 2)))
    return wrk(url, script, connections, seconds)


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(0) if errors else "", "raw": out}


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


async def raw_consume_rate(url: str, queue_name: str, n: int) -> float:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        await ch.set_qos(prefetch_count=1000)
        q = await ch.get_queue(queue_name)
        done = asyncio.Event()
        seen = 0

        async def on(msg):
            nonlocal seen
            seen += 1
            if seen % 500 == 0 or seen == n:
                await msg.ack(multiple=True)
            if seen >= n:
                done.set()

        started = time.perf_counter()
        await q.consume(on)
        await asyncio.wait_for(done.wait(), 300)
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


def metric(url: str, name: str) -> float:
    text = httpx.get(url, timeout=5).text
    m = re.search(rf"^{re.escape(name)} ([\d.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def run(report, workdir: Path | None = None, seconds: int = 10) -> None:
    work = Path(workdir or Path.cwd() / ".bench" / "pipeline")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    node = RabbitNode(work / "rabbitmq", name="bench").start(timeout_s=90)
    procs: list[subprocess.Popen] = []
    try:
        _run(report, work, node, procs, seconds)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        node.destroy()


def _run(report, work: Path, node: RabbitNode, procs: list, seconds: int) -> None:
    S = "pipeline"
    broker = BrokerSettings(url=node.url, max_length=50_000_000)
    ceiling_broker = BrokerSettings(url=node.url, exchange="ceiling", queue="ceiling",
                                    dead_letter_exchange="ceiling.dlx", dead_letter_queue="ceiling.dead")
    schema = Validator(load_schema(default_schema_path()))
    from datetime import datetime, timezone
    one = [schema.validate(SINGLE, datetime.now(timezone.utc), "bench")]
    hundred = [schema.validate(ev, datetime.now(timezone.utc), "bench")
               for ev in list(Webshop(seed=1).history(1))[:100]]
    small_body, batch_body = encode_batch(one).body, encode_batch(hundred).body

    print("measuring broker ceilings (raw aio-pika, pipelined confirms) ...", flush=True)
    pub1 = asyncio.run(raw_publish_rate(node.url, ceiling_broker, small_body, 30_000))
    pub100 = asyncio.run(raw_publish_rate(node.url, ceiling_broker, batch_body, 5_000))
    consume = asyncio.run(raw_consume_rate(node.url, "ceiling", 35_000))
    report.add(S, "ceiling: raw publish, 1-event messages", pub1, "msg/s", note="aio-pika, 500 unconfirmed at once")
    report.add(S, "ceiling: raw publish, 100-event messages", pub100 * 100, "events/s",
               note=f"{pub100:,.0f} msg/s")
    report.add(S, "ceiling: raw consume (prefetch 1000, multiple ack)", consume, "msg/s")

    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")}
    env.update({"OBS_ENV": "development", "OBS_AMQP_URL": node.url, "OBS_AMQP_MAX_LENGTH": str(broker.max_length),
                "OBS_INGEST_API_KEYS": f"bench:sha256:{hashlib.sha256(KEY.encode()).hexdigest()}",
                "OBS_INGEST_RATE_LIMIT_EVENTS_PER_S": "1e9", "OBS_INGEST_RATE_LIMIT_BURST": "1e9",
                "OBS_CLICKHOUSE_DSN": f"chdb://{work / 'chdb'}", "OBS_CLICKHOUSE_DATABASE": "bench"})
    port = free_port()
    ingest_env = {**env, "OBS_INGEST_PORT": str(port)}
    procs.append(subprocess.Popen([sys.executable, "-m", "observatory.cli", "run", "ingest", "--workers", "2"],
                                  env=ingest_env, stdout=open(work / "ingest.log", "wb"), stderr=subprocess.STDOUT))
    base = f"http://127.0.0.1:{port}"
    wait_for("ingest ready", lambda: httpx.get(f"{base}/health/ready", timeout=1).status_code == 200, 60)
    workers = [c.pid for c in psutil.Process(procs[0].pid).children(recursive=True)]
    url = f"{base}/v1/events"
    single, batch = work / "single.lua", work / "batch.lua"
    single.write_text(_lua(json.dumps(SINGLE)))
    batch.write_text(_lua(json.dumps([{k: v for k, v in e.items() if k not in ("received_at", "source")}
                                      for e in hundred])))
    wrk(url, single, 16, 2)  # warm-up

    print("single-event POST, closed loop ...", flush=True)
    r = wrk(url, single, 64, seconds)
    report.add(S, "single-event POST throughput", r["rps"], "events/s", target=">= 5,000", ceiling=pub1,
               note=f"2 ingest workers, 64 connections, p99 {r['p99']:.1f} ms, non-2xx {r['non2xx']}")
    asyncio.run(purge(node.url, broker.queue))

    target_rate = 4000
    r = paced(url, work / "paced.lua", json.dumps(SINGLE), target_rate, 40, seconds)
    report.add(S, "single-event POST p99 at ~4,000 events/s", r["p99"], "ms", target="<= 50 ms",
               note=f"achieved {r['rps']:,.0f} req/s (wrk, calibrated think time), p50 {r['p50']:.1f} ms")
    asyncio.run(purge(node.url, broker.queue))

    print("100-event batch POST ...", flush=True)
    r = wrk(url, batch, 16, seconds)
    report.add(S, "100-event batch POST throughput", r["rps"] * 100, "events/s", target=">= 80,000",
               ceiling=pub100 * 100, note=f"p99 {r['p99']:.1f} ms, non-2xx {r['non2xx']}")
    report.add(S, "100-event batch POST p99", r["p99"], "ms", target="<= 100 ms")
    asyncio.run(purge(node.url, broker.queue))  # same start as the native batch run: an empty queue
    _posthog_batch(report, base, work, hundred, native=r["rps"] * 100, seconds=seconds)
    report.add(S, "ingest worker RSS (max of workers, after load)", rss_mb(workers), "MB", target="<= 100 MB")

    # consumer throughput: drain what the batch run queued (100-event messages)
    queued = asyncio.run(_depth(node.url, broker.queue))
    print(f"consumer draining {queued:,} messages ...", flush=True)
    cport = free_port()
    cenv = {**env, "OBS_CONSUMER_METRICS_PORT": str(cport)}
    consumer = subprocess.Popen([sys.executable, "-m", "observatory.cli", "run", "consumer"], env=cenv,
                                stdout=open(work / "consumer.log", "wb"), stderr=subprocess.STDOUT)
    procs.append(consumer)
    murl = f"http://127.0.0.1:{cport}/metrics"
    wait_for("consumer metrics", lambda: httpx.get(murl, timeout=1).status_code == 200, 60)
    idle_rss = rss_mb([consumer.pid])
    wait_for("first insert", lambda: metric(murl, "consumer_rows_inserted_total") > 0, 60, interval_s=0.05)
    t0, rows0 = time.perf_counter(), metric(murl, "consumer_rows_inserted_total")
    wait_for("queue drained", lambda: asyncio.run(_depth(node.url, broker.queue)) == 0, 600, interval_s=0.2)
    wait_for("last insert", lambda: metric(murl, "consumer_rows_inserted_total") >= queued * 100 * 0.999, 60,
             interval_s=0.05)
    rows = metric(murl, "consumer_rows_inserted_total") - rows0
    rate = rows / (time.perf_counter() - t0)
    insert_ceiling = _raw_insert_rate(work)
    report.add(S, "consumer rows into ClickHouse", rate, "rows/s", target=">= 50,000", ceiling=insert_ceiling,
               note="ceiling: raw chDB insert of the same rows in 50k batches, no broker")
    drained_rss = rss_mb([consumer.pid])
    report.add(S, "consumer RSS (after draining)", drained_rss, "MB", target="<= 200 MB",
               note=f"embedded ClickHouse (chDB) inside the process; {idle_rss:.0f} MB right after start, "
                    f"+{drained_rss - idle_rss:.0f} MB while consuming")

    print("accepted -> queryable at ~5,000 events/s ...", flush=True)
    started = time.time()
    r = paced(url, work / "paced.lua", json.dumps(SINGLE), 5000, 50, seconds)
    wait_for("queue drained", lambda: asyncio.run(_depth(node.url, broker.queue)) == 0, 120, interval_s=0.2)
    time.sleep(1.5)
    consumer.terminate()
    consumer.wait(60)
    out = subprocess.run(
        [sys.executable, "-m", "observatory.cli", "query", "--format", "json", "--dsn", f"chdb://{work / 'chdb'}",
         "SELECT count() AS n, quantile(0.5)(toFloat64(inserted_at - received_at)) AS p50, "
         "quantile(0.99)(toFloat64(inserted_at - received_at)) AS p99 FROM bench.events "
         f"WHERE received_at >= toDateTime64({started - 1}, 3)"],
        env={**env}, capture_output=True, text=True, timeout=120)
    stats = json.loads(out.stdout.splitlines()[0])
    report.add(S, "accepted -> queryable p99", stats["p99"], "s", target="<= 2 s",
               note=f"{stats['n']:,} events at ~{r['rps']:,.0f}/s, p50 {stats['p50']:.2f} s, consumer flush 500 ms")


def _posthog_batch(report, base: str, work: Path, events: list[dict], native: float, seconds: int) -> None:
    """The same 100 events as posthog-python sends them to /batch/ (gzip, key in the body), beside the
    native 100-event batch of this run (the `ceiling` column: ratio = SDK door / native door)."""
    import gzip
    S = "pipeline"
    print("100-event PostHog /batch gzip POST ...", flush=True)
    batch = [{"event": e["event_name"], "distinct_id": e["user_id"], "uuid": e["event_id"], "timestamp": e["timestamp"],
              "properties": {**e["properties"], "$session_id": e["session_id"], "$lib": "posthog-python"}}
             for e in events]
    body = work / "posthog-batch.json.gz"
    body.write_bytes(gzip.compress(json.dumps({"api_key": KEY, "batch": batch}).encode()))
    script = work / "posthog.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["Content-Encoding"] = "gzip"\n'
                      f'local f = io.open({json.dumps(str(body))}, "rb")\nwrk.body = f:read("*all")\nf:close()\n')
    r = wrk(f"{base}/batch/", script, 16, seconds)
    report.add(S, "100-event PostHog /batch gzip POST throughput", r["rps"] * 100, "events/s",
               target=">= 80% of the native batch", ceiling=native,
               note=f"SDK door vs native 100-event batch in this run; p99 {r['p99']:.1f} ms, non-2xx {r['non2xx']}")
    report.add(S, "100-event PostHog /batch gzip POST p99", r["p99"], "ms", target="<= 100 ms")


async def _depth(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        return (await ch.declare_queue(queue, passive=True)).declaration_result.message_count


def _raw_insert_rate(work: Path) -> float:
    """Raw chDB insert in a subprocess (this process must not open a chDB folder)."""
    code = f"""
import time, uuid, datetime as dt, clickhouse_connect
from observatory.settings import StoreSettings
from observatory.store.migrate import migrate
s = StoreSettings(dsn="chdb://{work / 'chdb-ceiling'}", database="ceiling")
c = clickhouse_connect.get_client(dsn=s.dsn); migrate(c, s)
now = dt.datetime.now(dt.timezone.utc)
cols = ("event_id","event_name","timestamp","user_id","session_id","properties","source","received_at","inserted_at")
rows = [[uuid.uuid4(), "product_viewed", now, "u-1", "s-1", '{{"product_id":"p-1","price":12.5}}', "b", now, now]
        for _ in range(50_000)]
t = time.perf_counter()
for _ in range(6): c.insert("ceiling.events", rows, column_names=cols)
print(300_000 / (time.perf_counter() - t))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return float(out.stdout.strip().splitlines()[-1])
