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

from observatory.localstack.proc import ManagedProcess, free_port
from observatory.monitoring.promconfig import write

BINARY = "prometheus"
INSTALL_HINT = "install it with: sudo apt-get install -y prometheus"


@dataclass
class PrometheusServer(ManagedProcess):
    display_name = "Prometheus"
    file_stem = "prometheus"

    base: Path
    config: dict
    port: int = field(default_factory=free_port)
    retention: str = "15d"
    process: subprocess.Popen | None = None
    pid: int | None = None

    def command(self) -> list[str]:
        binary = shutil.which(BINARY)
        if binary is None:
            raise RuntimeError(f"Prometheus is not installed ({BINARY} not on PATH); {INSTALL_HINT}")
        return [binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.base / 'data'}",
                f"--storage.tsdb.retention.time={self.retention}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                f"--web.external-url={self.url}"]

    def write_config(self) -> None:
        write(self.config, self.config_path)

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
