"""Broker down: the official SDKs get 503 + Retry-After, keep their batches, retry by themselves once the
broker is back, and every event is stored exactly once (SDK ids → event ids → ReplacingMergeTree)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from posthog import Posthog
from prometheus_client.parser import text_string_to_metric_families
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from observatory.localstack.rabbitmq import RabbitNode
from observatory.settings import BrokerSettings
from tests.integration.conftest import API_KEY, count_rows, wait_until
from tests.integration.sdk.conftest import serve

N = 20

pytestmark = pytest.mark.slow


async def _503s(p) -> dict[str, float]:
    text = (await p.private.get("/metrics")).text
    return {
        s.labels["route"]: s.value
        for fam in text_string_to_metric_families(text)
        if fam.name == "ingest_http_requests"
        for s in fam.samples
        if s.name.endswith("_total") and s.labels.get("code") == "503"
    }


async def test_sdks_retry_through_a_broker_outage_and_store_each_event_once(make_pipeline, tmp_path, ch):
    node = RabbitNode(tmp_path / "rabbit", name="sdkoutage").start()
    name = f"sdkout_{uuid.uuid4().hex[:8]}"
    broker = BrokerSettings(
        url=node.url, exchange=name, queue=name, dead_letter_exchange=f"{name}.dlx", dead_letter_queue=f"{name}.dead"
    )
    errors: list = []
    try:
        async with make_pipeline(broker=broker, confirm_timeout_s=2, retry_after_s=1) as p, serve(p.app.public) as url:
            node.stop()
            await wait_until("ingest not ready while the broker is down", lambda: _ready(p, 503), 30)
            ph = Posthog(
                API_KEY,
                host=url,
                flush_at=N,
                flush_interval=0.2,
                max_retries=40,
                on_error=lambda e, b: errors.append(("posthog", e)),
            )
            seg = SegmentClient(
                API_KEY,
                host=url,
                upload_interval=0.2,
                max_retries=40,
                on_error=lambda e, b: errors.append(("segment", e)),
            )
            rud = RudderClient(
                API_KEY,
                host=url,
                upload_interval=0.2,
                max_retries=40,
                on_error=lambda e, b: errors.append(("rudder", e)),
            )
            for i in range(N):
                ph.capture("outage_ph", distinct_id=f"ph-{i}")
                seg.track(f"seg-{i}", "outage_seg")
                rud.track(f"rud-{i}", "outage_rud")
            await wait_until("each SDK answered 503 at least once", lambda: _has_503s(p, {"/batch", "/v1/batch"}), 60)
            node.start()  # same ports, same data folder
            await wait_until("ingest ready again", lambda: _ready(p, 200), 90)
            await wait_until(f"{3 * N} events stored", lambda: count_rows(ch, p.db) == 3 * N, 180)
            for client in (ph, seg, rud):
                await asyncio.to_thread(client.flush)
                await asyncio.to_thread(client.shutdown)
            await asyncio.sleep(1)  # any late duplicate would be inserted by now (flush_ms=50)
            assert errors == []
            assert count_rows(ch, p.db) == 3 * N
            users = {u for (u,) in ch.query(f"SELECT user_id FROM {p.db}.events FINAL").result_rows}
            assert users == {f"{k}-{i}" for k in ("ph", "seg", "rud") for i in range(N)}
    finally:
        node.destroy()


async def _ready(p, code: int) -> bool:
    return (await p.http.get("/health/ready")).status_code == code


async def _has_503s(p, routes: set[str]) -> bool:
    got = await _503s(p)
    return all(got.get(r, 0) >= 1 for r in routes) and sum(got.values()) >= 3
