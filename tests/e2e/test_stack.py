"""One event through the running stack: a row in ClickHouse, metrics in Prometheus, a trace in
Jaeger, its log line in Elasticsearch, and an alert accepted by Alertmanager. Run with `make e2e`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx


def test_event_lands_in_clickhouse_once(stack, request):
    import clickhouse_connect

    dsn = stack.get("OBS_E2E_CLICKHOUSE_DSN")
    sent_event = request.getfixturevalue("sent_event")
    db = stack.env.get("OBS_E2E_CLICKHOUSE_DATABASE", "observatory")
    client = clickhouse_connect.get_client(dsn=dsn)
    try:
        sql = f"SELECT count(), any(event_name), any(source) FROM {db}.events FINAL WHERE user_id = {{u:String}}"
        row = stack.wait(
            f"the event of user {sent_event.user_id} in ClickHouse {db}.events",
            lambda: (r := client.query(sql, parameters={"u": sent_event.user_id}).result_rows[0])[0] and r,
        )
    finally:
        client.close()
    count, name, source = row
    assert count == 1 and name == "product_viewed" and source, row


def test_metrics_reach_prometheus(stack, request):
    prom = stack.get("OBS_E2E_PROMETHEUS_URL")
    request.getfixturevalue("sent_event")

    def query(expr):
        r = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    for job in ("ingest", "consumer"):
        up = stack.wait(f"up{{job={job!r}}} == 1 in Prometheus", lambda job=job: query(f'up{{job="{job}"}} == 1'))
        assert up
    accepted = stack.wait(
        "ingest_events_accepted_total > 0 in Prometheus", lambda: query("sum(ingest_events_accepted_total) > 0")
    )
    assert float(accepted[0]["value"][1]) >= 1
    stack.wait("consumer_rows_inserted_total > 0 in Prometheus", lambda: query("sum(consumer_rows_inserted_total) > 0"))
    # Prometheus is wired to an Alertmanager
    r = httpx.get(f"{prom}/api/v1/alertmanagers", timeout=10)
    assert r.status_code == 200 and r.json()["data"]["activeAlertmanagers"], r.text


def test_trace_reaches_jaeger(stack, request):
    jaeger = stack.get("OBS_E2E_JAEGER_URL")
    sent_event = request.getfixturevalue("sent_event")

    def trace():
        r = httpx.get(f"{jaeger}/api/traces/{sent_event.trace_id}", timeout=10)
        if r.status_code != 200:
            return None
        data = r.json().get("data") or []
        return data[0] if data and data[0].get("spans") else None

    found = stack.wait(f"trace {sent_event.trace_id} in Jaeger", trace)
    services = {p["serviceName"] for p in found["processes"].values()}
    assert any("ingest" in s for s in services), services
    # the consumer continues the trace from the traceparent the ingest put in the AMQP headers
    assert any("consumer" in s for s in services), f"the trace stops at {services}"


def test_log_line_reaches_elasticsearch(stack, request):
    es = stack.get("OBS_E2E_ELASTICSEARCH_URL")
    auth = (stack.env.get("OBS_E2E_ELASTICSEARCH_USER", "elastic"), stack.get("OBS_E2E_ELASTICSEARCH_PASSWORD"))
    sent_event = request.getfixturevalue("sent_event")
    query = {
        "query": {
            "bool": {
                "should": [
                    {"term": {"request_id": sent_event.request_id}},
                    {"term": {"trace_id": sent_event.trace_id}},
                ],
                "minimum_should_match": 1,
            }
        },
        "size": 5,
    }

    def search():
        r = httpx.post(f"{es}/logs-*/_search", json=query, auth=auth, timeout=10)
        r.raise_for_status()
        return r.json()["hits"]["hits"]

    hits = stack.wait(f"a log line with request_id {sent_event.request_id} in Elasticsearch (Filebeat)", search)
    doc = hits[0]["_source"]
    assert doc.get("service") and doc.get("@timestamp"), doc


def test_alertmanager_accepts_and_routes_an_alert(stack):
    """A synthetic alert, silenced first so that no one is notified, must show up as suppressed."""
    am = stack.get("OBS_E2E_ALERTMANAGER_URL")
    name = f"ObservatoryE2E{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    silence = httpx.post(
        f"{am}/api/v2/silences",
        timeout=10,
        json={
            "matchers": [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
            "createdBy": "make e2e",
            "comment": "end-to-end test alert",
        },
    )
    assert silence.status_code == 200, silence.text
    alert = {
        "labels": {"alertname": name, "severity": "info", "service": "e2e"},
        "annotations": {
            "summary": "end-to-end test",
            "description": "sent by tests/e2e",
            "runbook_url": "https://example.invalid/e2e",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    try:
        r = httpx.post(f"{am}/api/v2/alerts", json=[alert], timeout=10)
        assert r.status_code == 200, r.text

        def find():
            r = httpx.get(f"{am}/api/v2/alerts", params={"filter": f'alertname="{name}"'}, timeout=10)
            r.raise_for_status()
            return r.json()

        found = stack.wait(f"alert {name} in Alertmanager", find, interval_s=1)
        assert found[0]["status"]["state"] == "suppressed", found[0]["status"]
        assert found[0]["receivers"], "the routing tree gave the alert no receiver"
    finally:
        alert["endsAt"] = datetime.now(UTC).isoformat()
        httpx.post(f"{am}/api/v2/alerts", json=[alert], timeout=10)
        httpx.delete(f"{am}/api/v2/silence/{silence.json()['silenceID']}", timeout=10)


def test_docker_only_panels_have_data(stack):
    """The Grafana panels the local tests cannot feed (node-exporter, cAdvisor, the ClickHouse server)
    must show data on the Docker stack's Prometheus."""
    from tests.integration.dashboards.panels import expand_promql, queries
    from tests.integration.dashboards.test_prometheus_panels import NEEDS_DOCKER, NEEDS_NODE_EXPORTER

    prom = stack.get("OBS_E2E_PROMETHEUS_URL")

    def query(expr):
        r = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    jobs = {m["metric"]["job"] for m in query("up == 1")}
    missing = {"node-exporter", "cadvisor", "clickhouse"} - jobs
    if missing:
        import pytest

        pytest.skip(f"this Prometheus does not scrape {sorted(missing)}: not the Docker stack")
    panels = [
        q for q in queries("prometheus") if f"{q.dashboard} / {q.panel}" in {**NEEDS_DOCKER, **NEEDS_NODE_EXPORTER}
    ]
    assert panels
    for q in panels:
        stack.wait(f"data for the panel {q.key}", lambda q=q: query(expand_promql(q.text)))
