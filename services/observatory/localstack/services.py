"""Run an Observatory service (`observatory run ingest|consumer|all-in-one`) as a child process on a
loopback port, ready when /health/ready answers 200. Used by the alerting tests and benchmark, which
need real processes to scrape, stop and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from observatory.localstack.proc import stop_pid, wait_for


@dataclass
class ServiceProcess:
    service: str                  # ingest | consumer | all-in-one
    port: int                     # the port serving /health/ready and /metrics
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")}
        env.update(self.env)
        with open(self.log_path, "ab") as out:  # the child keeps its own copy
            self.process = subprocess.Popen([sys.executable, "-m", "observatory.cli", "run", self.service], env=env,
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(f"{self.service} ready at {self.url}/health/ready", self.ready, timeout_s,
                 alive=self.running, log_hint=f"see {self.log_path}")
        return self

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200

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
