"""The readiness waits of the local servers, against a real Prometheus and Alertmanager: what the
alerting and dashboard rigs rely on before their tests start.

- a server is ready only when it listens on its port itself: a port picked by free_port() is not
  reserved, and another process that took it and answers must not pass for ours;
- the scrape-target wait asks each target to answer once (a loaded machine makes targets miss
  scrapes at different times, so "all up at the same instant" waits for a coincidence), names every
  target never up with Prometheus' lastError and scrape duration, and ends at once, naming it, when a
  process behind a target exits;
- a server (or RabbitMQ node) that does not come up in time is stopped, not left running.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.proc import free_port
from observatory.localstack.prometheus import PrometheusServer
from observatory.localstack.rabbitmq import RabbitNode
from tests.tools import require

require("prometheus"), require("prometheus-alertmanager")


class Endpoint:
    """A loopback HTTP server; `answer(n)` gives (status, delay_s) for the n-th request (from 1)."""

    def __init__(self, answer: Callable[[int], tuple[int, float]]) -> None:
        self.requests = 0
        lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    endpoint.requests += 1
                    n = endpoint.requests
                status, delay = answer(n)
                time.sleep(delay)
                body = b"# TYPE probe gauge\nprobe 1\n"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the scraper gave up first (the slow endpoint): nothing to answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def prometheus(base, jobs: dict[str, str]) -> PrometheusServer:
    """A Prometheus scraping each `job -> host:port` and itself every second (timeout 1 s)."""
    port = free_port()
    cfg = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in {"prometheus": f"127.0.0.1:{port}", **jobs}.items()
        ],
    }
    return PrometheusServer(base, cfg, port=port)


@pytest.fixture
def endpoints():
    started: list[Endpoint] = []

    def make(answer: Callable[[int], tuple[int, float]]) -> Endpoint:
        started.append(Endpoint(answer))
        return started[-1]

    yield make
    for e in started:
        e.stop()


def test_a_port_answered_by_another_process_does_not_pass_for_the_server(tmp_path, endpoints):
    squatter = endpoints(lambda n: (200, 0.0))  # answers /-/ready with 200 on the port we give Alertmanager
    config = {"route": {"receiver": "x"}, "receivers": [{"name": "x"}]}
    am = AlertmanagerServer(tmp_path / "am", config, port=squatter.port)
    with pytest.raises(RuntimeError, match="exited while starting"):
        am.start(60)  # it cannot bind the port: it exits, and is not taken for ready meanwhile
    assert am.process is not None and am.process.wait(timeout=10) != 0
    assert squatter.requests == 0, "the readiness probe asked the foreign server"


def test_each_target_answering_once_is_enough_even_if_never_all_at_the_same_time(tmp_path, endpoints):
    """`early` answers its first scrape only, `late` fails until `early` was scraped twice: the two are
    never up at the same time, yet each proved it serves its metrics."""
    early = endpoints(lambda n: (200, 0.0) if n == 1 else (503, 0.0))
    late = endpoints(lambda n: (200, 0.0) if early.requests >= 2 else (503, 0.0))
    prom = prometheus(tmp_path / "prom", {"early": early.target, "late": late.target})
    try:
        prom.start(60)
        prom.wait_targets_up("each target up once", 60)
        health = {t["labels"]["job"]: t["health"] for t in prom.targets()}
        assert early.requests >= 2 and health["early"] == "down"
    finally:
        prom.stop()


def test_the_timeout_names_each_target_never_up_with_its_last_error(tmp_path, endpoints):
    slow = endpoints(lambda n: (200, 1.5))  # slower than the 1 s scrape timeout: a target on a loaded machine
    closed = free_port()  # nothing listens here
    prom = prometheus(tmp_path / "prom", {"slow": slow.target, "closed": f"127.0.0.1:{closed}"})
    try:
        prom.start(60)
        with pytest.raises(TimeoutError) as caught:
            prom.wait_targets_up("every target up", 8)
    finally:
        prom.stop()
    message = str(caught.value)
    assert "timed out after 8s waiting for every target up" in message
    assert f"slow {slow.target}: down (" in message and "context deadline exceeded" in message
    assert "of its 1s timeout" in message
    assert f"closed 127.0.0.1:{closed}: down (" in message and "connection refused" in message
    assert "prometheus 127.0.0.1" not in message  # it was up: not listed


def test_the_target_wait_ends_at_once_naming_a_process_that_exited(tmp_path, endpoints):
    closed = free_port()
    exited = subprocess.Popen(["true"])
    exited.wait(timeout=10)
    prom = prometheus(tmp_path / "prom", {"closed": f"127.0.0.1:{closed}"})
    try:
        prom.start(60)
        with pytest.raises(RuntimeError, match=r"exited meanwhile: the exporter \(log: exporter.log\)"):
            # a long timeout: a TimeoutError instead would mean the exit went unnoticed
            prom.wait_targets_up(
                "every target up", 600, {"the exporter (log: exporter.log)": lambda: exited.poll() is None}
            )
    finally:
        prom.stop()


def test_a_rabbitmq_node_that_does_not_come_up_in_time_is_not_left_running(tmp_path):
    """A boot timeout (a loaded machine) used to leave the node booting on, loading the machine further."""
    node = RabbitNode(tmp_path / "rabbit", name="late")
    with pytest.raises(TimeoutError, match="Last line of the node's log"):
        node.start(timeout_s=1)
    assert node.process is not None and node.process.poll() is not None
    left = [p.pid for p in psutil.process_iter(["cmdline", "environ"]) if _belongs(p, tmp_path)]
    assert not left, f"processes of the node still running: {left}"


def _belongs(proc: psutil.Process, folder) -> bool:
    try:
        text = " ".join(proc.info["cmdline"] or []) + " " + " ".join((proc.info["environ"] or {}).values())
    except (psutil.Error, TypeError):
        return False
    return str(folder) in text
