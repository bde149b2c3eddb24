"""Grafana is provisioned from files (config/grafana/provisioning, dashboards/grafana); this job
checks that the provisioning took (every datasource uid and dashboard uid exists, and the plugin of
every provisioned datasource is installed), reports each datasource's health, and makes the
Pipeline dashboard the organisation's home.

Grafana installs datasource plugins it does not bundle in the background after it starts
(GF_PLUGINS_PREINSTALL: the ClickHouse plugin; in Grafana 13 possibly also Prometheus,
Elasticsearch and Jaeger), so Grafana is healthy whatever the network does. Without internet such a
plugin never arrives: the job waits for it a bounded time, then fails naming the plugin and the
offline remedy, instead of leaving dashboards that silently show "plugin not found"."""

from __future__ import annotations

import json
import logging

from observatory.setup.config import SetupSettings, require
from observatory.setup.http import Api, SetupError, wait_for

log = logging.getLogger("observatory.setup.grafana")
# provisioned datasource uid -> its plugin id (config/grafana/provisioning/datasources/datasources.yml)
DATASOURCE_PLUGINS = {
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "jaeger": "jaeger",
    "elasticsearch": "elasticsearch",
    "clickhouse": "grafana-clickhouse-datasource",
}
DATASOURCES = tuple(DATASOURCE_PLUGINS)
OFFLINE_HINT = (
    "Grafana installs these plugins from grafana.com in the background; without internet access, "
    "install them by hand (docs/stack.md, 'Grafana without internet'), then run the setup job again"
)


def api(s: SetupSettings) -> Api:
    return Api(
        "Grafana",
        s.grafana_url,
        auth=(s.grafana_user, require(s.grafana_password, "GRAFANA_ADMIN_PASSWORD")),
        timeout_s=s.request_timeout_s,
        retry_s=s.timeout_s,
        interval_s=s.interval_s,
    )


def dashboard_uids(s: SetupSettings) -> list[str]:
    return [json.loads(p.read_text())["uid"] for p in sorted((s.dashboards_dir / "grafana").glob("*.json"))]


def installed(g: Api, plugin: str) -> bool:
    return g.request("GET", f"/api/plugins/{plugin}/settings", ok=(200, 404)).status_code == 200


def wait_for_plugins(g: Api, s: SetupSettings) -> dict[str, str]:
    """Waits for the plugin of every provisioned datasource; returns {uid: plugin} of those still missing."""
    try:
        wait_for(
            "Grafana to install the datasource plugins",
            lambda: all(installed(g, p) for p in DATASOURCE_PLUGINS.values()),
            s.grafana_plugin_wait_s,
            s.interval_s,
        )
    except SetupError:
        pass
    return {uid: plugin for uid, plugin in DATASOURCE_PLUGINS.items() if not installed(g, plugin)}


def run(s: SetupSettings) -> dict[str, bool]:
    """Returns datasource uid -> health check passed."""
    with api(s) as g:
        wait_for(
            f"Grafana at {s.grafana_url} (/api/health database ok)",
            lambda: (r := g.client.get("/api/health")).status_code == 200 and r.json().get("database") == "ok",
            s.timeout_s,
            s.interval_s,
        )
        missing = [
            uid
            for uid in DATASOURCES
            if g.request("GET", f"/api/datasources/uid/{uid}", ok=(200, 404)).status_code == 404
        ]
        if missing:
            raise SetupError(
                f"Grafana lacks provisioned datasources {missing}: check "
                "config/grafana/provisioning/datasources and Grafana's log"
            )
        missing_plugins = wait_for_plugins(g, s)
        if missing_plugins:
            raise SetupError(f"Grafana has no plugin for provisioned datasources {missing_plugins}: {OFFLINE_HINT}")
        uids = dashboard_uids(s)
        # the file provider scans every updateIntervalSeconds: give it time after a fresh start
        wait_for(
            "Grafana to load the provisioned dashboards",
            lambda: all(g.client.get(f"/api/dashboards/uid/{u}").status_code == 200 for u in uids),
            min(s.timeout_s, 180),
            s.interval_s,
        )
        health = {}
        for uid in DATASOURCES:
            r = g.request("GET", f"/api/datasources/uid/{uid}/health", ok=(200, 400, 404, 500, 502))
            health[uid] = r.status_code == 200 and r.json().get("status", "OK").upper() == "OK"
            if not health[uid]:
                log.warning("datasource health check failed", extra={"uid": uid, "answer": r.text[:300]})
        g.request("PUT", "/api/org/preferences", json={"homeDashboardUID": s.grafana_home_dashboard})
        log.info("grafana verified", extra={"dashboards": len(uids), "healthy": sum(health.values())})
        return health
