"""Kibana: the `logs-*` data view and the saved objects in dashboards/kibana/*.ndjson (saved
searches and the Logs dashboard), imported with overwrite so re-running updates them."""

from __future__ import annotations

import logging

from observatory.setup.config import SetupSettings, require
from observatory.setup.http import Api, SetupError, wait_for

log = logging.getLogger("observatory.setup.kibana")
# Kibana refuses state-changing API calls without this header (CSRF protection)
XSRF = {"kbn-xsrf": "observatory-setup"}


def api(s: SetupSettings) -> Api:
    return Api(
        "Kibana",
        s.kibana_url,
        auth=("elastic", require(s.elastic_password, "ELASTIC_PASSWORD")),
        headers=XSRF,
        timeout_s=s.request_timeout_s,
        retry_s=s.timeout_s,
        interval_s=s.interval_s,
    )


def wait_ready(k: Api, s: SetupSettings) -> None:
    def probe() -> bool:
        r = k.client.get("/api/status")
        if r.status_code == 401:
            raise SetupError("Kibana refused the elastic user (401): check ELASTIC_PASSWORD")
        if r.status_code != 200:
            return False
        return r.json().get("status", {}).get("overall", {}).get("level") == "available"

    wait_for(f"Kibana at {s.kibana_url} (status available)", probe, s.timeout_s, s.interval_s)


def run(s: SetupSettings) -> None:
    files = sorted((s.dashboards_dir / "kibana").glob("*.ndjson"))
    if not files:
        raise SetupError(f"no saved objects found in {s.dashboards_dir / 'kibana'}")
    with api(s) as k:
        wait_ready(k, s)
        k.request(
            "POST",
            "/api/data_views/data_view",
            json={
                "data_view": {
                    "id": s.kibana_data_view_id,
                    "title": s.kibana_data_view_pattern,
                    "name": "Logs",
                    "timeFieldName": "@timestamp",
                },
                "override": True,
            },
        )
        for path in files:
            result = k.json(
                "POST",
                "/api/saved_objects/_import",
                params={"overwrite": "true"},
                files={"file": (path.name, path.read_bytes(), "application/ndjson")},
            )
            if not result.get("success"):
                errors = "; ".join(
                    f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}" for e in result.get("errors", [])
                )
                raise SetupError(f"Kibana import of {path.name} failed: {errors or result}")
            log.info("kibana objects imported", extra={"file": path.name, "count": result.get("successCount")})
