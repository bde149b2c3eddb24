"""`observatory setup <target>`: run the provisioning jobs in dependency order."""

from __future__ import annotations

import logging

from observatory.setup import TARGETS
from observatory.setup.config import SetupSettings

log = logging.getLogger("observatory.setup")


def run(target: str, settings: SetupSettings) -> None:
    from observatory.setup import elasticsearch, grafana, kibana, metabase

    jobs = {"elasticsearch": elasticsearch.run, "kibana": kibana.run, "metabase": metabase.run, "grafana": grafana.run}
    for name in TARGETS if target == "all" else (target,):
        log.info("setup started", extra={"target": name})
        jobs[name](settings)
        log.info("setup done", extra={"target": name})
