"""One ingest request, one trace: the real services (`observatory run ingest`, `observatory run consumer`,
each a process booted by the CLI from OBS_* settings) export to a local OTLP/HTTP receiver; the trace
goes HTTP span -> publish span -> (real RabbitMQ, traceparent in the AMQP headers) -> consume span ->
insert span (linked). The same run checks the services' JSON logs, the exemplars on the latency
histograms, and that personal data never reaches logs or spans.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass

import httpx
import pytest

from observatory import __version__
from observatory.localstack.proc import free_port
from observatory.settings import BrokerSettings
from tests.conftest import unique
from tests.integration.conftest import AUTH, service_env
from tests.integration.tracing.conftest import (
    OtlpReceiver,
    Span,
    read_json_lines,
    wait_for,
)

EMAIL, EMAIL2, CARD, CARD_SPACED = (
    "alice.smith@example.com",
    "bob@example.org",
    "4111111111111111",
    "5500 0000 0000 0004",
)
PII = (EMAIL, EMAIL2, CARD, CARD_SPACED, "alice.smith", "1111 1111")


@dataclass
class Run:
    broker: BrokerSettings
    database: str
    request_id: str
    trace_id: str
    chain: dict[str, Span]
    pii_request_id: str
    pii_trace_id: str
    otlp: OtlpReceiver
    ingest_logs: list[dict]
    consumer_logs: list[dict]
    raw_logs: str
    ingest_metrics: str
    consumer_metrics: str


def _start(args: list[str], env: dict, log_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "observatory.cli", "run", *args],
        env=env,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _chain(otlp: OtlpReceiver, trace_id: str) -> dict[str, Span] | None:
    spans = otlp.trace(trace_id)
    by_kind = {}
    for s in spans:
        by_kind.setdefault(s.kind, []).append(s)
    if not all(by_kind.get(k) for k in ("server", "producer", "consumer", "client")):
        return None
    return {
        "http": by_kind["server"][0],
        "publish": by_kind["producer"][0],
        "consume": by_kind["consumer"][0],
        "insert": by_kind["client"][0],
    }


@pytest.fixture(scope="module")
def run(rabbit, otlp, tmp_path_factory) -> Run:
    work = tmp_path_factory.mktemp("tracing")
    name = unique("events")
    broker = BrokerSettings(
        url=rabbit.url, exchange=name, queue=name, dead_letter_exchange=f"{name}.dlx", dead_letter_queue=f"{name}.dead"
    )
    db = unique("t")
    port, pport, cport = free_port(), free_port(), free_port()
    env = service_env(
        broker,
        f"chdb://{work / 'chdb'}",
        db,
        OBS_OTLP_ENDPOINT=otlp.url,
        OBS_TRACE_SAMPLE_RATIO=1.0,
        OTEL_BSP_SCHEDULE_DELAY=100,
        OBS_INGEST_PORT=port,
        OBS_INGEST_PRIVATE_PORT=pport,
        OBS_CONSUMER_PORT=free_port(),
        OBS_CONSUMER_METRICS_PORT=cport,
        OBS_CONSUMER_FLUSH_MS=50,
    )
    otlp.clear()
    consumer = _start(["consumer"], env, work / "consumer.log")
    ingest = _start(["ingest"], env, work / "ingest.log")
    base = f"http://127.0.0.1:{port}"
    try:
        for what, url, proc in (
            ("ingest ready", f"{base}/health/ready", ingest),
            ("consumer ready", f"http://127.0.0.1:{cport}/health/ready", consumer),
        ):

            def ready(what=what, url=url, proc=proc):
                assert proc.poll() is None, f"{what}: the process exited; log in {work}"
                try:
                    return httpx.get(url, timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(what, ready, timeout_s=60, interval_s=0.2)

        rid = f"trace-test-{uuid.uuid4().hex[:12]}"
        r = httpx.post(
            f"{base}/v1/events",
            headers={**AUTH, "X-Request-ID": rid},
            timeout=10,
            json={"event_name": "signup_custom", "user_id": "u-trace", "properties": {"plan": "pro"}},
        )
        assert r.status_code == 202, r.text
        assert r.headers["x-request-id"] == rid
        http_span = wait_for(
            f"the server span of request {rid}",
            lambda: next(
                (s for s in otlp.named("POST /v1/events") if s.attributes.get("observatory.request_id") == rid), None
            ),
        )
        chain = wait_for(
            f"HTTP, publish, consume and insert spans of trace {http_span.trace_id}",
            lambda: _chain(otlp, http_span.trace_id),
        )

        # personal data: in the event's properties, in a query string and in paths (404s)
        pii_rid = f"pii-{uuid.uuid4().hex[:12]}"
        r = httpx.post(
            f"{base}/v1/events?ref={EMAIL2}",
            headers={**AUTH, "X-Request-ID": pii_rid},
            timeout=10,
            json={
                "event_name": "signup_custom",
                "user_id": "u-pii",
                "properties": {"email": EMAIL, "note": f"card {CARD_SPACED}, mail {EMAIL2}", "card": CARD},
            },
        )
        assert r.status_code == 202, r.text
        for path in (f"/v1/users/{EMAIL}", f"/v1/cards/{CARD}"):
            assert httpx.get(f"{base}{path}", headers=AUTH, timeout=10).status_code == 404
        pii_http = wait_for(
            f"the server span of request {pii_rid}",
            lambda: next(
                (s for s in otlp.named("POST /v1/events") if s.attributes.get("observatory.request_id") == pii_rid),
                None,
            ),
        )
        wait_for(f"the full chain of trace {pii_http.trace_id}", lambda: _chain(otlp, pii_http.trace_id))
        wait_for("the two 404 server spans", lambda: len(otlp.named("GET")) >= 2)

        om = {"Accept": "application/openmetrics-text; version=1.0.0"}
        ingest_metrics = httpx.get(f"http://127.0.0.1:{pport}/metrics", headers=om, timeout=5).text
        consumer_metrics = httpx.get(f"http://127.0.0.1:{cport}/metrics", headers=om, timeout=5).text
    finally:
        _stop(ingest)
        _stop(consumer)
    raw = (work / "ingest.log").read_text(errors="replace") + (work / "consumer.log").read_text(errors="replace")
    return Run(
        broker,
        db,
        rid,
        http_span.trace_id,
        chain,
        pii_rid,
        pii_http.trace_id,
        otlp,
        read_json_lines(work / "ingest.log"),
        read_json_lines(work / "consumer.log"),
        raw,
        ingest_metrics,
        consumer_metrics,
    )


def test_one_request_is_one_trace_from_http_to_the_clickhouse_insert(run):
    http, publish, consume, insert = (run.chain[k] for k in ("http", "publish", "consume", "insert"))
    assert {s.trace_id for s in run.chain.values()} == {run.trace_id}

    assert (http.service, http.kind, http.name, http.parent_span_id) == ("ingest", "server", "POST /v1/events", "")
    assert http.attributes["http.request.method"] == "POST"
    assert http.attributes["http.route"] == "/v1/events"
    assert http.attributes["http.response.status_code"] == 202
    assert http.attributes["observatory.request_id"] == run.request_id
    assert http.status_code != 2, http.status_message

    assert (publish.service, publish.kind, publish.parent_span_id) == ("ingest", "producer", http.span_id)
    assert publish.name == f"publish {run.broker.exchange}"
    assert publish.attributes["messaging.system"] == "rabbitmq"
    assert publish.attributes["messaging.destination.name"] == run.broker.exchange
    assert publish.attributes["messaging.batch.message_count"] == 1
    assert publish.attributes["observatory.group.requests"] == 1
    assert publish.links == []

    # across RabbitMQ: the consumer process continued the context it found in the message headers
    assert (consume.service, consume.kind, consume.parent_span_id) == ("consumer", "consumer", publish.span_id)
    assert consume.name == f"process {run.broker.queue}"
    assert consume.attributes["messaging.destination.name"] == run.broker.queue
    assert consume.attributes["messaging.message.id"] == publish.attributes["messaging.message.id"]
    assert consume.attributes["observatory.rows"] == 1

    assert (insert.service, insert.kind) == ("consumer", "client")
    assert insert.name == f"INSERT {run.database}.events"
    assert (run.trace_id, consume.span_id) in insert.links, "the insert span links the message it carries"
    assert insert.parent_span_id == consume.span_id
    assert insert.attributes["db.system.name"] == "clickhouse"
    assert insert.attributes["db.namespace"] == run.database
    assert insert.attributes["observatory.rows"] >= 1
    assert insert.status_code != 2, insert.status_message

    for s in run.chain.values():
        assert s.resource["service.version"] == __version__
        assert s.resource["deployment.environment.name"] == "test"
        assert s.resource["service.namespace"] == "observatory"
    assert set(run.otlp.paths) == {"/v1/traces"}


def test_the_request_log_lines_carry_its_trace_id_and_request_id(run):
    http = run.chain["http"]
    mine = [d for d in run.ingest_logs if d.get("request_id") == run.request_id]
    assert mine, "no ingest log line with the request id"
    access = [d for d in mine if d.get("logger") == "uvicorn.access"]
    assert access and "POST /v1/events" in access[0]["message"], mine
    for d in mine:
        assert (d.get("trace_id"), d.get("span_id")) == (run.trace_id, http.span_id), d
        assert d["service"] == "ingest" and d["level"] and d["timestamp"] and d["message"]
    in_trace = [d for d in run.ingest_logs if d.get("trace_id") == run.trace_id]
    assert all(d.get("request_id") == run.request_id for d in in_trace), in_trace
    # lines outside any request (startup) carry neither
    boot = [d for d in run.ingest_logs + run.consumer_logs if d["message"] in ("tracing on", "broker connected")]
    assert boot and all("trace_id" not in d for d in boot)
    assert {d["service"] for d in run.consumer_logs} == {"consumer"}


def _exemplars(text: str, metric: str, labels: str = "") -> set[str]:
    return set(
        re.findall(
            rf'^{metric}_bucket{{[^}}]*{re.escape(labels)}[^}}]*}} \S+ # {{trace_id="([0-9a-f]{{32}})"}}',
            text,
            re.MULTILINE,
        )
    )


@pytest.mark.parametrize(
    "service,metric,labels",
    [
        ("ingest", "ingest_http_request_duration_seconds", 'route="/v1/events"'),
        ("ingest", "ingest_publish_confirm_seconds", ""),
        ("consumer", "consumer_insert_duration_seconds", ""),
        ("consumer", "consumer_end_to_end_latency_seconds", ""),
    ],
)
def test_latency_histograms_carry_exemplars_that_open_a_trace(run, service, metric, labels):
    text = run.ingest_metrics if service == "ingest" else run.consumer_metrics
    found = _exemplars(text, metric, labels)
    assert found, f"no exemplar on {metric}"
    assert found <= {run.trace_id, run.pii_trace_id}, "an exemplar points at a trace of another request"
    traced = {s.trace_id for s in run.otlp.snapshot()}
    assert found <= traced, "the exemplar's trace was not exported"


def test_personal_data_never_reaches_logs_or_spans(run):
    payloads = b"".join(run.otlp.payloads)
    for secret in PII:
        assert secret.encode() not in payloads, f"{secret!r} exported in a span"
        assert secret not in run.raw_logs, f"{secret!r} in a log line"
    # the data did pass through: redacted, not merely absent
    paths = {s.attributes.get("url.path") for s in run.otlp.named("GET")}
    assert {"/v1/users/[email]", "/v1/cards/[card]"} <= paths, paths
    access = [d["message"] for d in run.ingest_logs if d.get("logger") == "uvicorn.access"]
    assert any("/v1/events?ref=[email]" in m for m in access), access
    assert any("/v1/cards/[card]" in m for m in access), access
    pii_chain = _chain(run.otlp, run.pii_trace_id)
    assert pii_chain["insert"].attributes["observatory.rows"] >= 1, "the event with personal data was stored"
