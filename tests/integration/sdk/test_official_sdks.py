"""The official Python SDKs (posthog, segment-analytics-python, rudder-sdk-python), unmodified, pointed
at a real ingest over HTTP: every call lands in ClickHouse once, with the mapped fields."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from posthog import Posthog
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.integration.conftest import API_KEY, count_rows, wait_until
from tests.integration.sdk.conftest import rows, serve


async def test_posthog_python_capture_set_alias_group_exception(make_pipeline, ch):
    async with make_pipeline() as p, serve(p.app.public) as url:
        errors = []
        ph = Posthog(
            API_KEY,
            host=url,
            gzip=True,
            flush_at=100,
            flush_interval=0.2,
            max_retries=2,
            on_error=lambda e, batch: errors.append(e),
        )
        custom = ph.capture("plan_chosen", distinct_id="ph-u1", properties={"$session_id": "sess-9", "plan": "pro"})
        typed = ph.capture(
            "purchase_completed",
            distinct_id="ph-u1",
            properties={
                "order_id": "o-1",
                "total_value": 19.5,
                "payment_method": "card",
                "items": [{"product_id": "p-1", "quantity": 1, "price": 19.5}],
            },
        )
        ph.set(distinct_id="ph-u1", properties={"email": "u1@example.com"})
        ph.alias("anon-ph-1", "ph-u1")
        ph.group_identify("company", "acme", {"name": "Acme"}, distinct_id="ph-u1")
        try:
            raise KeyError("missing thing")
        except KeyError as exc:
            ph.capture_exception(exc, distinct_id="ph-u1")
        for i in range(150):  # more than one SDK batch (flush_at=100)
            ph.capture("bulk_event", distinct_id=f"bulk-{i}", properties={"i": i})
        await asyncio.to_thread(ph.flush)
        await asyncio.to_thread(ph.shutdown)
        assert errors == []

        await wait_until("156 PostHog events stored", lambda: count_rows(ch, p.db) == 156, 60)
        by_name = {}
        for row in rows(ch, p.db):
            by_name.setdefault(row["event_name"], []).append(row)
        assert {n: len(v) for n, v in by_name.items()} == {
            "plan_chosen": 1,
            "purchase_completed": 1,
            "$set": 1,
            "$create_alias": 1,
            "$groupidentify": 1,
            "$exception": 1,
            "bulk_event": 150,
        }
        row = by_name["plan_chosen"][0]
        assert row["event_id"] == custom and row["user_id"] == "ph-u1" and row["session_id"] == "sess-9"
        assert row["source"] == "tests"
        assert row["properties"]["plan"] == "pro" and row["properties"]["$lib"] == "posthog-python"
        assert row["properties"]["$door"] == "posthog" and "token" not in row["properties"]
        assert abs((row["timestamp"].replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()) < 120
        assert by_name["purchase_completed"][0]["event_id"] == typed
        assert by_name["$set"][0]["properties"]["$set"] == {"email": "u1@example.com"}
        assert by_name["$create_alias"][0]["properties"]["alias"] in ("anon-ph-1", "ph-u1")
        assert by_name["$groupidentify"][0]["properties"]["$group_key"] == "acme"
        assert "KeyError" in str(by_name["$exception"][0]["properties"]["$exception_list"])
        assert {r["user_id"] for r in by_name["bulk_event"]} == {f"bulk-{i}" for i in range(150)}

        metrics = (await p.private.get("/metrics")).text
        assert 'frontend_exceptions_total{type="KeyError"} 1.0' in metrics


def _segment_calls(client, prefix: str) -> None:
    client.track(f"{prefix}-u1", "Order Completed", {"revenue": 12.5}, context={"sessionId": 1700000000123})
    client.identify(f"{prefix}-u1", {"email": f"{prefix}@example.com", "plan": "pro"})
    client.page(f"{prefix}-u1", name="Home", properties={"url": "http://shop.test/?utm_source=x", "path": "/"})
    client.screen(f"{prefix}-u1", name="Cart")
    client.group(f"{prefix}-u1", f"{prefix}-grp", {"name": "Acme"})
    client.alias(f"{prefix}-anon", f"{prefix}-u1")
    client.track(anonymous_id=f"{prefix}-anon-2", event="Product Viewed", properties={"sku": "s-1"})
    client.track(
        f"{prefix}-u2", "add_to_cart", {"product_id": "p-9", "price": 3.5, "quantity": 1}
    )  # a typed webshop event


async def _check_segment_rows(ch, db: str, prefix: str, lib: str) -> None:
    await wait_until(
        f"8 {prefix} events stored", lambda: count_rows(ch, db, where=f"startsWith(user_id, '{prefix}-')") == 8, 60
    )
    got = {r["event_name"]: r for r in rows(ch, db, f"startsWith(user_id, '{prefix}-')")}
    assert set(got) == {
        "Order Completed",
        "$identify",
        "$pageview",
        "$screen",
        "$groupidentify",
        "$create_alias",
        "Product Viewed",
        "add_to_cart",
    }
    assert got["Order Completed"]["session_id"] == "1700000000123"
    assert got["Order Completed"]["properties"]["revenue"] == 12.5
    assert got["Order Completed"]["properties"]["$lib"] == lib
    assert got["Order Completed"]["properties"]["$door"] == "segment"
    assert got["$identify"]["properties"]["$set"]["email"] == f"{prefix}@example.com"
    assert got["$pageview"]["properties"]["$current_url"] == "http://shop.test/?utm_source=x"
    assert got["$pageview"]["properties"]["$pathname"] == "/"
    assert got["$groupidentify"]["properties"]["$group_key"] == f"{prefix}-grp"
    assert got["$create_alias"]["properties"]["alias"] == f"{prefix}-anon"
    assert got["Product Viewed"]["user_id"] == f"{prefix}-anon-2"
    assert got["Product Viewed"]["properties"]["$anonymous_id"] == f"{prefix}-anon-2"
    assert "$context" in got["Order Completed"]["properties"]
    assert all(r["source"] == "tests" for r in got.values())


async def test_segment_python_sends_every_call_type(make_pipeline, ch):
    async with make_pipeline() as p, serve(p.app.public) as url:
        errors = []
        client = SegmentClient(
            API_KEY,
            host=url,
            gzip=False,
            upload_interval=0.1,
            max_retries=2,
            on_error=lambda e, batch: errors.append(e),
        )
        _segment_calls(client, "seg")
        await asyncio.to_thread(client.flush)
        await asyncio.to_thread(client.shutdown)
        assert errors == []
        await _check_segment_rows(ch, p.db, "seg", "analytics-python")


async def test_rudder_python_sends_gzip_batches(make_pipeline, ch):
    async with make_pipeline() as p, serve(p.app.public) as url:
        errors = []
        client = RudderClient(
            API_KEY, host=url, upload_interval=0.1, max_retries=2, on_error=lambda e, batch: errors.append(e)
        )
        _segment_calls(client, "rud")
        await asyncio.to_thread(client.flush)
        await asyncio.to_thread(client.shutdown)
        assert errors == []
        await _check_segment_rows(ch, p.db, "rud", "analytics-python")
