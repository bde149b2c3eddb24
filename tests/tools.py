"""The servers' command-line tools the tests run. `make test` installs them (scripts/bootstrap.sh),
so a missing one is a broken setup: collection fails with the command that fixes it, rather than
the checks being skipped and the suite passing without them."""

from __future__ import annotations

import shutil

PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
    "chromium": "chromium",
    "node": "nodejs npm",
    "caddy": "caddy",
}


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(
            f"{binary} not found: run scripts/bootstrap.sh dev (or apt-get install -y {PACKAGES.get(binary, binary)})"
        )
    return path
