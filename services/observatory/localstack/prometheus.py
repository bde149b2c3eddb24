"""A private Prometheus (Debian's `prometheus` package) as a plain process on a loopback port.

Config, TSDB and log live under one folder. The configuration is a dict (see
observatory.monitoring.promconfig) written to `<base>/prometheus.yml` at start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from observatory.localstack.proc import ManagedProcess, free_port, wait_for
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
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.base / 'data'}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            f"--web.external-url={self.url}",
        ]

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

    def all_targets_up(self) -> bool:
        targets = self.targets()
        return bool(targets) and all(t["health"] == "up" for t in targets)

    def down_targets(self) -> list[str]:
        """`job instance: health (lastError)` of every active target that is not up."""
        return [
            f"{t['labels'].get('job')} {t['labels'].get('instance')}: {t['health']} ({t.get('lastError') or '-'})"
            for t in self.targets()
            if t["health"] != "up"
        ]

    def wait_targets_up(self, what: str, timeout_s: float) -> None:
        """Wait until every scrape target is up; the timeout names the ones that are not, with lastError."""
        try:
            wait_for(what, self.all_targets_up, timeout_s)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc} Targets not up: {self.down_targets() or 'none listed yet'}") from None

    def evaluated_since(self, t: float) -> bool:
        """Every rule group has been evaluated after the wall-clock time `t` (seconds since the epoch)."""
        groups = self.rule_groups()
        return bool(groups) and all(_epoch(g.get("lastEvaluation")) > t for g in groups)

    def scraped_since(self, t: float) -> bool:
        """Every active target has been scraped after the wall-clock time `t`."""
        targets = self.targets()
        return bool(targets) and all(_epoch(x.get("lastScrape")) > t for x in targets)


_RFC3339 = re.compile(r"^(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _epoch(rfc3339: str | None) -> float:
    """Prometheus' RFC 3339 timestamps (nanosecond fractions, `Z` or an offset) as seconds; 0 for none."""
    m = _RFC3339.match(rfc3339 or "")
    if not m or m.group(0).startswith("0001-"):  # Go's zero time: never happened
        return 0.0
    head, frac, zone = m.groups()
    seconds = datetime.fromisoformat(head + ("+00:00" if zone == "Z" else zone)).timestamp()
    return seconds + (float(frac) if frac else 0.0)
