"""Tracing benchmark: ingest throughput with tracing off, on at 10% sampling and on at 100%, in the same
run on the same broker; the tracing-off figure is the ceiling of the tracing-on rows (target: at most
15% throughput cost at 10%).

Servers are real processes: a private RabbitMQ node and `observatory run ingest --workers 2`; load from
`wrk` (single-event POSTs, closed loop). The OTLP endpoint is a local sink on loopback that accepts and
discards (200), counting what it received so a run that exported nothing cannot pass for a cheap one.
Configurations alternate (off, 10%, 100%, off, ...) and each keeps its best round, so that drift of the
machine does not favour one of them. Also: the per-line cost of log redaction (always on).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson

from observatory.bench.pipeline import KEY, SINGLE, _lua, purge, wrk
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.rabbitmq import RabbitNode
from observatory.process import stop_process
from observatory.settings import BrokerSettings

S = "tracing"
CONFIGS = (("off", None), ("10%", 0.1), ("100%", 1.0))


class OtlpSink:
    """Loopback OTLP/HTTP endpoint that reads, counts and discards."""

    def __init__(self) -> None:
        sink = self
        self.requests = 0
        self.bytes = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                sink.requests += 1
                sink.bytes += n
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(report, workdir: Path | None = None, seconds: int = 8, rounds: int = 3) -> None:
    work = Path(workdir or Path.cwd() / ".bench" / "tracing")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    node = RabbitNode(work / "rabbitmq", name="benchtr").start()
    sink = OtlpSink()
    try:
        _run(report, work, node, sink, seconds, rounds)
    finally:
        sink.close()
        node.destroy()
    _redaction_cost(report)


def _ingest(work: Path, node: RabbitNode, label: str, ratio: float | None, sink: OtlpSink):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "OTEL_"))}
    port = free_port()
    env.update(
        {
            "OBS_ENV": "development",
            "OBS_AMQP_URL": node.url,
            "OBS_AMQP_MAX_LENGTH": "50000000",
            "OBS_INGEST_API_KEYS": f"bench:sha256:{hashlib.sha256(KEY.encode()).hexdigest()}",
            "OBS_INGEST_RATE_LIMIT_EVENTS_PER_S": "1e9",
            "OBS_INGEST_RATE_LIMIT_BURST": "1e9",
            "OBS_INGEST_PORT": str(port),
            "OBS_INGEST_PRIVATE_PORT": str(free_port()),
        }
    )
    if ratio is not None:
        env.update({"OBS_OTLP_ENDPOINT": sink.url, "OBS_TRACE_SAMPLE_RATIO": str(ratio)})
    log = open(work / f"ingest-{label.rstrip('%')}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "observatory.cli", "run", "ingest", "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(
        f"ingest ({label}) ready",
        lambda: httpx.get(f"{base}/health/ready", timeout=1).status_code == 200,
        60,
        alive=lambda: proc.poll() is None,
        log_hint=f"see {log.name}",
    )
    return proc, f"{base}/v1/events"


def _run(report, work: Path, node: RabbitNode, sink: OtlpSink, seconds: int, rounds: int) -> None:
    import asyncio

    broker = BrokerSettings(url=node.url)
    script = work / "single.lua"
    script.write_text(_lua(orjson.dumps(SINGLE).decode()))
    best: dict[str, dict] = {}
    exported: dict[str, tuple[int, int]] = {}
    for i in range(rounds):
        for label, ratio in CONFIGS:
            print(f"round {i + 1}/{rounds}: tracing {label} ...", flush=True)
            proc, url = _ingest(work, node, label, ratio, sink)
            try:
                wrk(url, script, 16, 2)  # warm-up
                before = (sink.requests, sink.bytes)
                result = wrk(url, script, 64, seconds)
                stop_process(proc)  # flushes the exporters (atexit), so the sink has seen this run's spans
                exported[label] = (
                    exported.get(label, (0, 0))[0] + sink.requests - before[0],
                    exported.get(label, (0, 0))[1] + sink.bytes - before[1],
                )
            finally:
                if proc.poll() is None:
                    stop_process(proc)
            if label not in best or result["rps"] > best[label]["rps"]:
                best[label] = result
            asyncio.run(purge(node.url, broker.queue))
    off = best["off"]
    report.add(
        S,
        "single-event POST throughput, tracing off",
        off["rps"],
        "req/s",
        note=f"2 ingest workers, 64 connections, best of {rounds} rounds, p99 {off['p99']:.1f} ms, "
        f"non-2xx {off['non2xx']}",
    )
    for label, target in (("10%", ">= 0.85 x off"), ("100%", None)):
        r = best[label]
        requests, size = exported[label]
        report.add(
            S,
            f"single-event POST throughput, tracing on, {label} sampled",
            r["rps"],
            "req/s",
            target=target,
            ceiling=off["rps"],
            note=f"cost {100 * (1 - r['rps'] / off['rps']):.1f}%, p99 {r['p99']:.1f} ms, non-2xx {r['non2xx']}, "
            f"OTLP sink got {requests} exports, {size / 2**20:.1f} MiB",
        )
    if exported["off"][0]:
        report.add(S, "OTLP exports with tracing off (must be 0)", exported["off"][0], "requests")


def _redaction_cost(report, n: int = 50_000) -> None:
    """Format access-log-like records with and without the redaction hook (always on in the services)."""
    from observatory import logging as obs_logging
    from observatory import redact
    from observatory.logging import JsonFormatter

    fmt = JsonFormatter("bench")
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:51234", "POST", "/v1/events", "1.1", 202),
        None,
    )
    saved = list(obs_logging._enrichers)
    try:
        obs_logging._enrichers[:] = [h for h in saved if h is not redact.log_hook]
        started = time.perf_counter()
        for _ in range(n):
            fmt.format(record)
        plain = (time.perf_counter() - started) / n
        obs_logging._enrichers.append(redact.log_hook)
        started = time.perf_counter()
        for _ in range(n):
            fmt.format(record)
        masked = (time.perf_counter() - started) / n
    finally:
        obs_logging._enrichers[:] = saved
    report.add(
        S,
        "JSON log line (access log), with redaction",
        masked * 1e6,
        "us/line",
        note=f"{plain * 1e6:.2f} us/line without; redaction is always on (logs), tracing or not",
    )
