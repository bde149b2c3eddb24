"""End-to-end tests against a running stack. URLs and credentials come from the environment:

    OBS_E2E_INGEST_URL            http://127.0.0.1:8080
    OBS_E2E_API_KEY               a key ingest accepts (the compose stack's OBS_API_KEY)
    OBS_E2E_CLICKHOUSE_DSN        http://user:password@127.0.0.1:8123     (a ClickHouse server)
    OBS_E2E_CLICKHOUSE_DATABASE   observatory
    OBS_E2E_PROMETHEUS_URL        http://127.0.0.1:9090
    OBS_E2E_JAEGER_URL            http://127.0.0.1:16686
    OBS_E2E_ELASTICSEARCH_URL     http://127.0.0.1:9200  (+ OBS_E2E_ELASTICSEARCH_USER / _PASSWORD)
    OBS_E2E_ALERTMANAGER_URL      http://127.0.0.1:9093
    OBS_E2E_TIMEOUT_S             how long each check waits for its result (default 120)

`make e2e` exports the compose stack's .env; when the OBS_E2E_* variables are absent and that .env
is loaded, the URLs of the compose stack on this machine are used. A check whose URL is not set is
skipped with the name of the variable it needs.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import httpx
import pytest

from observatory import poll


def _compose_defaults(env: dict[str, str]) -> dict[str, str]:
    """The compose stack's published ports on this machine, from its .env (exported by `make e2e`)."""
    if not env.get("GRAFANA_ADMIN_PASSWORD") or not env.get("OBS_API_KEY"):
        return {}
    host = "127.0.0.1"

    def port(name: str, default: int) -> str:
        return env.get(name) or str(default)

    return {
        "OBS_E2E_INGEST_URL": f"http://{host}:{port('INGEST_PORT', 8080)}",
        "OBS_E2E_API_KEY": env["OBS_API_KEY"],
        "OBS_E2E_CLICKHOUSE_DSN": f"http://analyst:{env.get('CLICKHOUSE_ANALYST_PASSWORD', '')}@{host}:"
        f"{port('CLICKHOUSE_HTTP_PORT', 8123)}",
        "OBS_E2E_PROMETHEUS_URL": f"http://{host}:{port('PROMETHEUS_PORT', 9090)}",
        "OBS_E2E_JAEGER_URL": f"http://{host}:{port('JAEGER_UI_PORT', 16686)}",
        "OBS_E2E_ELASTICSEARCH_URL": f"http://{host}:{port('ELASTICSEARCH_PORT', 9200)}",
        "OBS_E2E_ELASTICSEARCH_USER": "elastic",
        "OBS_E2E_ELASTICSEARCH_PASSWORD": env.get("ELASTIC_PASSWORD", ""),
        "OBS_E2E_ALERTMANAGER_URL": f"http://{host}:{port('ALERTMANAGER_PORT', 9093)}",
    }


@dataclass
class Stack:
    env: dict[str, str]
    timeout_s: float

    def get(self, name: str) -> str:
        value = self.env.get(name)
        if not value:
            pytest.skip(f"{name} is not set: no stack URL for this check (see tests/e2e/conftest.py)")
        return value

    def wait(self, what: str, probe, interval_s: float = 2.0):
        """Call `probe` until it returns something truthy; fail naming `what` after the deadline."""
        try:
            return poll.wait_for(
                what, probe, self.timeout_s, interval_s, transient=(httpx.HTTPError, ValueError, KeyError)
            )
        except poll.WaitTimeout as exc:
            pytest.fail(str(exc))


@pytest.fixture(scope="session")
def stack() -> Stack:
    env = {
        **_compose_defaults(dict(os.environ)),
        **{k: v for k, v in os.environ.items() if k.startswith("OBS_E2E_") and v},
    }
    return Stack(env, float(env.get("OBS_E2E_TIMEOUT_S", 120)))


@dataclass
class SentEvent:
    user_id: str
    trace_id: str
    request_id: str
    response: httpx.Response


@pytest.fixture(scope="session")
def sent_event(stack) -> SentEvent:
    """One event with a unique user, a sampled W3C trace context and a request id, sent once for all checks."""
    url, key = stack.get("OBS_E2E_INGEST_URL"), stack.get("OBS_E2E_API_KEY")
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    request_id = f"e2e-{uuid.uuid4().hex[:12]}"
    user = f"e2e-{uuid.uuid4().hex[:12]}"
    body = {
        "event_name": "product_viewed",
        "user_id": user,
        "session_id": f"s-{user}",
        "properties": {"product_id": "p-e2e", "price": 1.5, "category": "books"},
    }
    r = httpx.post(
        f"{url}/v1/events",
        json=body,
        timeout=30,
        headers={
            "Authorization": f"Bearer {key}",
            "traceparent": f"00-{trace_id}-{span_id}-01",
            "X-Request-ID": request_id,
        },
    )
    assert r.status_code == 202, f"ingest answered {r.status_code}: {r.text}"
    assert r.json()["accepted"] == 1, r.text
    return SentEvent(user, trace_id, r.headers.get("x-request-id", request_id), r)
