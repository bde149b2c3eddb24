"""A private Alertmanager (Debian's `prometheus-alertmanager` package) as a plain process on loopback.

Clustering is off (`--cluster.listen-address=`): a single private instance. The configuration is a
dict (see observatory.monitoring.amconfig) written to `<base>/alertmanager.yml` at start.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from observatory.localstack.proc import ManagedProcess, free_port
from observatory.monitoring.amconfig import write

BINARIES = ("prometheus-alertmanager", "alertmanager")
INSTALL_HINT = "install it with: sudo apt-get install -y prometheus-alertmanager"


@dataclass
class AlertmanagerServer(ManagedProcess):
    display_name = "Alertmanager"
    file_stem = "alertmanager"

    base: Path
    config: dict
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    pid: int | None = None

    def command(self) -> list[str]:
        binary = next(filter(None, map(shutil.which, BINARIES)), None)
        if binary is None:
            raise RuntimeError(f"Alertmanager is not installed ({' or '.join(BINARIES)} not on PATH); {INSTALL_HINT}")
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.base / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",
        ]

    def write_config(self) -> None:
        write(self.config, self.config_path)

    # -- HTTP API (v2) ---------------------------------------------------------------------------------
    def alerts(self, **filters: str) -> list[dict]:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("filter", f'{k}="{v}"') for k, v in filters.items()
        ]
        r = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def post_alerts(self, alerts: list[dict]) -> None:
        r = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        r.raise_for_status()
