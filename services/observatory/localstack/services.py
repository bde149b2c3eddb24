"""Run an Observatory service (`observatory run ingest|consumer|all-in-one`) as a child process on a
loopback port, ready when /health/ready answers 200 on the public listener AND /metrics on the private
one (what Prometheus scrapes: a rig starts Prometheus only once every target is bound). Used by the
alerting tests and benchmark, which need real processes to scrape, stop and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from observatory.localstack.proc import free_port, listening_ports, stop_pid, wait_for

# the settings naming each service's public and private (/metrics) ports
LISTENER_ENV = {
    "ingest": ("OBS_INGEST_PORT", "OBS_INGEST_PRIVATE_PORT"),
    "all-in-one": ("OBS_INGEST_PORT", "OBS_INGEST_PRIVATE_PORT"),
    "consumer": ("OBS_CONSUMER_PORT", "OBS_CONSUMER_METRICS_PORT"),
    "forecaster": ("OBS_FORECASTER_PORT", "OBS_FORECASTER_PRIVATE_PORT"),
}


@dataclass
class ServiceProcess:
    service: str  # ingest | consumer | all-in-one
    port: int  # the public listener: /health/ready (and the write paths)
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    private_port: int = field(default_factory=free_port)  # the private listener: /metrics, read API

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def private_url(self) -> str:
        return f"http://127.0.0.1:{self.private_port}"

    @property
    def target(self) -> str:
        """What Prometheus scrapes: /metrics on the private listener."""
        return f"127.0.0.1:{self.private_port}"

    def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")}
        env.update(self.env)
        public, private = LISTENER_ENV[self.service]
        env.update({public: str(self.port), private: str(self.private_port)})
        with open(self.log_path, "ab") as out:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "observatory.cli", "run", self.service],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_for(
                f"{self.service} ready at {self.url}/health/ready and {self.private_url}/metrics",
                self.ready,
                timeout_s,
                alive=self.running,
                log_hint=f"see {self.log_path}",
            )
        except BaseException:  # a service that did not come up is not left running
            self.stop()
            raise
        return self

    def ready(self) -> bool:
        """This process listens on both ports (not another one that took a port meanwhile), readiness
        answers on the public listener and the scrape endpoint on the private one."""
        return (
            self.process is not None
            and {self.port, self.private_port} <= listening_ports(self.process.pid)
            and httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
            and httpx.get(f"{self.private_url}/metrics", timeout=2).status_code == 200
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 30.0, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_pid(self.process.pid, timeout_s, sig)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
