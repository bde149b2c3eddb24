"""A private Prometheus (Debian's `prometheus` package) as a plain process on a loopback port.

Config, TSDB and log live under one folder. The configuration is a dict (see
observatory.monitoring.promconfig) written to `<base>/prometheus.yml` at start.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from observatory.localstack.proc import free_port, pid_alive, stop_pid, wait_for
from observatory.monitoring.promconfig import write

BINARY = "prometheus"
INSTALL_HINT = "install it with: sudo apt-get install -y prometheus"


@dataclass
class PrometheusServer:
    base: Path
    config: dict
    port: int = field(default_factory=free_port)
    retention: str = "15d"
    process: subprocess.Popen | None = None
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.base / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        return self.base / "prometheus.log"

    def command(self) -> list[str]:
        binary = shutil.which(BINARY)
        if binary is None:
            raise RuntimeError(f"Prometheus is not installed ({BINARY} not on PATH); {INSTALL_HINT}")
        return [binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.base / 'data'}",
                f"--storage.tsdb.retention.time={self.retention}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                f"--web.external-url={self.url}"]

    def start(self, timeout_s: float = 30.0, detach: bool = False) -> PrometheusServer:
        self.base.mkdir(parents=True, exist_ok=True)
        write(self.config, self.config_path)
        cmd = self.command()
        with open(self.log_path, "ab") as out:  # the child keeps its own copy
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.base, start_new_session=detach)
        self.pid = self.process.pid
        wait_for(f"Prometheus ready at {self.url}/-/ready", self.ready, timeout_s,
                 alive=lambda: self.process.poll() is None, log_hint=f"see {self.log_path}")
        return self

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def running(self) -> bool:
        return bool(self.pid and pid_alive(self.pid))

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.pid:
            stop_pid(self.pid, timeout_s)
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    # -- HTTP API ------------------------------------------------------------------------------------
    def query(self, expr: str) -> list[dict]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def alerts(self) -> list[dict]:
        r = httpx.get(f"{self.url}/api/v1/alerts", timeout=10)
        r.raise_for_status()
        return r.json()["data"]["alerts"]

    def targets(self) -> list[dict]:
        r = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["activeTargets"]

    def rule_groups(self) -> list[dict]:
        r = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        r.raise_for_status()
        return r.json()["data"]["groups"]
