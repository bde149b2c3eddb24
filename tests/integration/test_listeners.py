"""`observatory run ingest --workers 2` as a real process tree: the parent binds both sockets, each
worker serves both listeners; the private port answers, the public one takes events, SIGTERM ends
everything cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from observatory.localstack.proc import free_port, wait_for
from tests.integration.conftest import AUTH, READ, service_env


def test_ingest_workers_serve_both_listeners(broker_settings, store_settings, tmp_path):
    public, private = free_port(), free_port()
    env = service_env(
        broker_settings,
        store_settings.dsn,
        store_settings.database,
        OBS_INGEST_PORT=public,
        OBS_INGEST_PRIVATE_PORT=private,
        OBS_ACCESS_LOG="false",
    )
    log = tmp_path / "ingest.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "observatory.cli", "run", "ingest", "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(f"http://127.0.0.1:{public}/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("ingest workers ready", ready, 60)
        for i in range(6):  # new connections: the kernel spreads them over the workers
            metrics = httpx.get(f"http://127.0.0.1:{private}/metrics", timeout=5)
            assert metrics.status_code == 200 and "ingest_events_accepted_total" in metrics.text
            r = httpx.post(
                f"http://127.0.0.1:{public}/v1/events",
                json={"event_name": "x", "user_id": f"u{i}"},
                headers=AUTH,
                timeout=10,
            )
            assert r.status_code == 202, r.text
        assert httpx.get(f"http://127.0.0.1:{public}/metrics", timeout=5).status_code == 404
        assert httpx.get(f"http://127.0.0.1:{private}/docs", headers=READ, timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        for port in (public, private):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                raise AssertionError(f"port {port} still answers after the parent exited")
            except httpx.ConnectError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
