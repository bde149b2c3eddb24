"""Tracing in-process: group commit in traces, errors recorded with their exception, consumer log lines
in the batch's trace, forecaster query spans, and tracing off (nothing exported, nothing installed)."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import httpx
import pytest

from observatory import tracing
from observatory.broker.publisher import GroupPublisher
from observatory.broker.tracing import publish_tracing
from observatory.forecaster.app import create_app as create_forecaster
from observatory.metrics import new_registry
from observatory.middleware import TracingMiddleware
from observatory.settings import ConsumerSettings, ForecasterSettings
from tests.integration.conftest import READ, api_settings, count_rows, wait_until

EVENT = {"event_name": "signup_custom", "user_id": "u-1", "properties": {"plan": "pro"}}


class GatedPublisher:
    """Stands in for Publisher: holds the first message until released, records every message."""

    def __init__(self) -> None:
        self.messages: list[aio_pika.Message] = []
        self.release = asyncio.Event()

    async def publish(self, message) -> None:
        self.messages.append(message)
        if len(self.messages) == 1:
            await self.release.wait()


async def test_group_commit_publish_span_is_child_of_the_first_request_and_links_the_others(traced, otlp):
    tracer = traced.tracer("ingest")
    inner = GatedPublisher()
    group = GroupPublisher(inner, max_in_flight=1, tracing=publish_tracing("events", "events"))
    spans = {}

    async def request(name: str) -> None:
        with tracer.start_as_current_span(name) as span:
            spans[name] = span.get_span_context()
            await group.publish([{"n": name}])

    first = asyncio.create_task(request("r1"))
    await wait_until("the first group in flight", lambda: len(inner.messages) == 1)
    others = [asyncio.create_task(request(n)) for n in ("r2", "r3", "r4")]
    await wait_until("three requests waiting for the next group", lambda: len(group._pending) == 3)
    inner.release.set()
    await asyncio.wait_for(asyncio.gather(first, *others), 10)
    assert len(inner.messages) == 2, "r2..r4 should share the second message"
    assert traced.force_flush()

    publishes = await wait_until(
        "two publish spans", lambda: len(otlp.named("publish events")) == 2 and otlp.named("publish events")
    )
    by_parent = {s.parent_span_id: s for s in publishes}
    hexid = {n: (format(sc.trace_id, "032x"), format(sc.span_id, "016x")) for n, sc in spans.items()}
    single, grouped = by_parent[hexid["r1"][1]], by_parent[hexid["r2"][1]]
    assert single.attributes["observatory.group.requests"] == 1 and single.links == []
    assert grouped.trace_id == hexid["r2"][0]
    assert grouped.attributes["observatory.group.requests"] == 3
    assert grouped.attributes["messaging.batch.message_count"] == 3
    assert sorted(grouped.links) == sorted([hexid["r3"], hexid["r4"]])
    # the message carries the publish span's context, not a request's
    _, trace_id, span_id, flags = inner.messages[1].headers["traceparent"].split("-")
    assert (trace_id, span_id) == (grouped.trace_id, grouped.span_id) and int(flags, 16) & 1, "sampled"
    assert inner.messages[1].headers["x-request-count"] == 3


async def test_unsampled_requests_are_not_linked_and_a_sampled_one_is_preferred_as_parent(traced, otlp):
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    unsampled = SpanContext(int("a" * 32, 16), int("b" * 16, 16), is_remote=True, trace_flags=TraceFlags(0))
    sampled = SpanContext(int("c" * 32, 16), int("d" * 16, 16), is_remote=True, trace_flags=TraceFlags(1))
    pt = publish_tracing("events", "events")
    message = aio_pika.Message(body=b"[]", message_id="m1")
    ctxs = [
        trace.set_span_in_context(NonRecordingSpan(unsampled)),
        trace.set_span_in_context(NonRecordingSpan(sampled)),
    ]
    span = pt.start(message, ctxs, 2)
    pt.end(span, None)
    assert traced.force_flush()
    s = await wait_until("the publish span", lambda: next(iter(otlp.named("publish events")), None))
    assert (s.trace_id, s.parent_span_id, s.links) == ("c" * 32, "d" * 16, [])


async def test_a_request_the_broker_refuses_is_an_error_with_its_exception(
    traced, otlp, make_pipeline, broker_settings, logs
):
    full = broker_settings.model_copy(update={"max_length": 1})
    async with make_pipeline(consumer=False, broker=full) as p:
        assert (await p.post(EVENT)).status_code == 202  # fills the queue (reject-publish overflow)
        r = await p.post(EVENT, headers={"X-Request-ID": "refused-1"})
        assert r.status_code == 503, r.text
    assert traced.force_flush()
    http = await wait_until(
        "the refused request's server span",
        lambda: next(
            (s for s in otlp.named("POST /v1/events") if s.attributes.get("observatory.request_id") == "refused-1"),
            None,
        ),
    )
    assert http.status_code == 2 and http.attributes["http.response.status_code"] == 503
    assert any(e["name"] == "exception" and e["exception.type"].endswith("PublishError") for e in http.events), (
        http.events
    )
    publish = await wait_until(
        "its publish span", lambda: next((s for s in otlp.trace(http.trace_id) if s.kind == "producer"), None)
    )
    assert publish.status_code == 2
    assert any(e["name"] == "exception" and "refused" in e["exception.message"] for e in publish.events)
    warning = [d for d in logs.docs() if d["message"].startswith("publish not confirmed")]
    assert warning and warning[0]["trace_id"] == http.trace_id and warning[0]["request_id"] == "refused-1"


async def test_a_failed_insert_is_recorded_on_the_batch_span_and_its_log_line_is_in_the_trace(
    traced, otlp, make_pipeline, ch, logs
):
    async with make_pipeline(
        consumer_settings=ConsumerSettings(flush_ms=20, retry_initial_s=0.05, queue_poll_s=0.5)
    ) as p:
        real_insert, calls = p.consumer.sink.insert, []

        def flaky(rows):
            calls.append(len(rows))
            if len(calls) == 1:
                raise RuntimeError("ClickHouse is having a moment")
            return real_insert(rows)

        p.consumer.sink.insert = flaky
        r = await p.post(EVENT, headers={"X-Request-ID": "flaky-1"})
        assert r.status_code == 202
        await wait_until("the row after one failed insert", lambda: count_rows(ch, p.db) == 1)
    assert traced.force_flush()
    http = await wait_until(
        "the server span",
        lambda: next(
            (s for s in otlp.named("POST /v1/events") if s.attributes.get("observatory.request_id") == "flaky-1"), None
        ),
    )
    insert = await wait_until(
        "the insert span in the request's trace",
        lambda: next((s for s in otlp.trace(http.trace_id) if s.name.startswith("INSERT")), None),
    )
    assert any(
        e["name"] == "exception" and e["exception.message"] == "ClickHouse is having a moment" for e in insert.events
    ), insert.events
    failed = [d for d in logs.docs() if d["message"].startswith("batch not stored")]
    assert failed and failed[0]["trace_id"] == http.trace_id and failed[0]["span_id"] == insert.span_id


async def test_forecaster_clickhouse_queries_are_client_spans_of_the_request(traced, otlp, store_settings, chdb):
    app = create_forecaster(
        ForecasterSettings(),
        store_settings,
        None,
        registry=new_registry("forecaster", "t"),
        schedule=False,
        api=api_settings(),
    )
    chdb.track(app.state.forecaster.client)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app.private), base_url="http://f", headers=READ) as http,
    ):
        r = await http.get("/v1/analytics/dau", params={"start": "2026-01-01", "end": "2026-01-08"})
        assert r.status_code == 200, r.text
    assert traced.force_flush()
    server = await wait_until(
        "the forecaster's server span", lambda: next(iter(otlp.named("GET /v1/analytics/dau")), None)
    )
    assert server.service == "forecaster" and server.attributes["http.response.status_code"] == 200
    queries = await wait_until(
        "a ClickHouse span in the request's trace",
        lambda: [s for s in otlp.trace(server.trace_id) if s.kind == "client"],
    )
    q = queries[0]
    assert q.parent_span_id == server.span_id and q.name == f"SELECT {store_settings.database}"
    assert q.attributes["db.system.name"] == "clickhouse"
    assert q.attributes["db.namespace"] == store_settings.database
    assert "FROM" in q.attributes["db.query.text"]


async def test_tracing_off_installs_nothing_exports_nothing_and_the_pipeline_works(
    otlp, make_pipeline, ch, logs, broker_settings
):
    tracing.shutdown()
    otlp.clear()
    assert tracing.current() is None and tracing.exemplar() is None
    async with make_pipeline(consumer=False) as p:
        assert not any(m.cls is TracingMiddleware for app in (p.app.public, p.app.private) for m in app.user_middleware)
        r = await p.post(EVENT, headers={"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"})
        assert r.status_code == 202
        conn = await aio_pika.connect(broker_settings.url)
        async with conn:
            message = await (await (await conn.channel()).get_queue(broker_settings.queue)).get(timeout=5)
            await message.nack(requeue=True)
        assert "traceparent" not in (message.headers or {}), message.headers
        metrics = await p.private.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert "ingest_http_request_duration_seconds_bucket" in metrics.text and " # {" not in metrics.text
    async with make_pipeline() as p:
        assert p.consumer.tracing is None
        assert (await p.post(EVENT)).status_code == 202
        await wait_until("both rows stored", lambda: count_rows(ch, p.db) == 2)
    await asyncio.sleep(0.3)  # an exporter, had one been built, would have sent by now (50 ms schedule in tests)
    assert otlp.requests == 0
    assert logs.lines and not any("trace_id" in d for d in logs.docs())


@pytest.mark.parametrize(
    "endpoint,url",
    [
        ("http://jaeger:4318", "http://jaeger:4318/v1/traces"),
        ("http://c:4318/", "http://c:4318/v1/traces"),
        ("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
    ],
)
def test_otlp_endpoint_is_the_base_url(endpoint, url):
    assert tracing.traces_url(endpoint) == url
