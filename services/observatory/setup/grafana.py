"""Grafana is provisioned from files (config/grafana/provisioning, dashboards/grafana); this job
checks that the provisioning took (every datasource uid and dashboard uid exists), reports each
datasource's health, and makes the Pipeline dashboard the organisation's home."""

from __future__ import annotations

import json
import logging

from observatory.setup.config import SetupSettings, require
from observatory.setup.http import Api, SetupError, wait_for

log = logging.getLogger("observatory.setup.grafana")
DATASOURCES = ("prometheus", "alertmanager", "jaeger", "elasticsearch", "clickhouse")


def api(s: SetupSettings) -> Api:
    return Api("Grafana", s.grafana_url, auth=(s.grafana_user, require(s.grafana_password, "GRAFANA_ADMIN_PASSWORD")),
               timeout_s=s.request_timeout_s, retry_s=s.timeout_s, interval_s=s.interval_s)


def dashboard_uids(s: SetupSettings) -> list[str]:
    return [json.loads(p.read_text())["uid"] for p in sorted((s.dashboards_dir / "grafana").glob("*.json"))]


def run(s: SetupSettings) -> dict[str, bool]:
    """Returns datasource uid -> health check passed."""
    with api(s) as g:
        wait_for(f"Grafana at {s.grafana_url} (/api/health database ok)",
                 lambda: (r := g.client.get("/api/health")).status_code == 200 and r.json().get("database") == "ok",
                 s.timeout_s, s.interval_s)
        missing = [uid for uid in DATASOURCES
                   if g.request("GET", f"/api/datasources/uid/{uid}", ok=(200, 404)).status_code == 404]
        if missing:
            raise SetupError(f"Grafana lacks provisioned datasources {missing}: check "
                             "config/grafana/provisioning/datasources and Grafana's log")
        uids = dashboard_uids(s)
        # the file provider scans every updateIntervalSeconds: give it time after a fresh start
        wait_for("Grafana to load the provisioned dashboards",
                 lambda: all(g.client.get(f"/api/dashboards/uid/{u}").status_code == 200 for u in uids),
                 min(s.timeout_s, 180), s.interval_s)
        health = {}
        for uid in DATASOURCES:
            r = g.request("GET", f"/api/datasources/uid/{uid}/health", ok=(200, 400, 404, 500, 502))
            health[uid] = r.status_code == 200 and r.json().get("status", "OK").upper() == "OK"
            if not health[uid]:
                log.warning("datasource health check failed", extra={"uid": uid, "answer": r.text[:300]})
        g.request("PUT", "/api/org/preferences", json={"homeDashboardUID": s.grafana_home_dashboard})
        log.info("grafana verified", extra={"dashboards": len(uids), "healthy": sum(health.values())})
        return health
