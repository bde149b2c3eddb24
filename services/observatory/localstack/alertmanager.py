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

from observatory.localstack.proc import free_port, pid_alive, stop_pid, wait_for
from observatory.monitoring.amconfig import write

BINARIES = ("prometheus-alertmanager", "alertmanager")
INSTALL_HINT = "install it with: sudo apt-get install -y prometheus-alertmanager"


@dataclass
class AlertmanagerServer:
    base: Path
    config: dict
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.base / "alertmanager.yml"

    @property
    def log_path(self) -> Path:
        return self.base / "alertmanager.log"

    def command(self) -> list[str]:
        binary = next(filter(None, map(shutil.which, BINARIES)), None)
        if binary is None:
            raise RuntimeError(f"Alertmanager is not installed ({' or '.join(BINARIES)} not on PATH); {INSTALL_HINT}")
        return [binary, f"--config.file={self.config_path}", f"--storage.path={self.base / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", f"--web.external-url={self.url}",
                "--cluster.listen-address="]

    def start(self, timeout_s: float = 30.0, detach: bool = False) -> AlertmanagerServer:
        self.base.mkdir(parents=True, exist_ok=True)
        write(self.config, self.config_path)
        cmd = self.command()
        with open(self.log_path, "ab") as out:  # the child keeps its own copy
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.base, start_new_session=detach)
        self.pid = self.process.pid
        wait_for(f"Alertmanager ready at {self.url}/-/ready", self.ready, timeout_s,
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

    # -- HTTP API (v2) ---------------------------------------------------------------------------------
    def alerts(self, **filters: str) -> list[dict]:
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        r = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def post_alerts(self, alerts: list[dict]) -> None:
        r = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        r.raise_for_status()
