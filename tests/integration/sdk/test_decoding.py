"""Every decoding path of the SDK doors with bytes as the SDKs send them (SDK-FACTS.md), the answers
SDKs need, and bad input: the documented status and nothing written."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from tests.integration.conftest import API_KEY, OTHER_KEY, count_rows, wait_until
from tests.integration.sdk.conftest import rows

NOW = datetime.now(UTC)


def ph_event(name="$pageview", distinct="d-1", **props) -> dict:
    """An event as posthog-js builds it: distinct_id and token only inside properties, uuid v7."""
    return {
        "uuid": str(uuid.uuid4()),
        "event": name,
        "timestamp": NOW.isoformat().replace("+00:00", "Z"),
        "properties": {
            "distinct_id": distinct,
            "token": API_KEY,
            "$session_id": "s-js",
            "$current_url": "http://shop.test/cart?utm_source=news",
            "$pathname": "/cart",
            "$referrer": "$direct",
            "$browser": "Chrome",
            "$os": "Linux",
            "$device_type": "Desktop",
            "utm_source": "news",
            "$lib": "web",
            **props,
        },
    }


def envelope(*events, key=API_KEY) -> dict:
    return {"api_key": key, "batch": list(events), "sent_at": NOW.isoformat().replace("+00:00", "Z")}


def seg_message(kind="track", **extra) -> dict:
    return {
        "type": kind,
        "event": "Clicked",
        "userId": None,
        "anonymousId": "anon-1",
        "messageId": f"ajs-next-{int(NOW.timestamp() * 1000)}-{uuid.uuid4()}",
        "properties": {"x": 1},
        "context": {
            "library": {"name": "analytics.js", "version": "npm:next-1.84.3"},
            "page": {"path": "/", "url": "http://shop.test/"},
        },
        "timestamp": NOW.isoformat().replace("+00:00", "Z"),
        "writeKey": API_KEY,
        "sentAt": NOW.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def stored(ch, p, n: int) -> list[dict]:
    await wait_until(f"{n} rows", lambda: count_rows(ch, p.db) == n, 30)
    return rows(ch, p.db)


async def test_posthog_paths_and_encodings(make_pipeline, ch):
    async with make_pipeline() as p:
        h = p.http
        sent = []

        async def ok(r):
            assert r.status_code == 200, r.text
            assert r.json() == {"status": 1}

        # posthog-js current: raw gzip as text/plain, no hint at all (sniffed from 1f 8b)
        e = ph_event()
        sent.append(e)
        await ok(
            await h.post(
                f"/e/?ip=0&_={int(NOW.timestamp() * 1000)}&ver=1.449.2",
                content=gzip.compress(json.dumps(envelope(e)).encode()),
                headers={"Content-Type": "text/plain"},
            )
        )
        # gzip hinted by ?compression=gzip-js (posthog-js 1.200), a JSON array, token only in properties
        e = ph_event("clicked")
        sent.append(e)
        await ok(
            await h.post(
                "/e/?compression=gzip-js&ver=1.200.0",
                content=gzip.compress(json.dumps([e]).encode()),
                headers={"Content-Type": "text/plain"},
            )
        )
        # base64 in ?data= with a GET
        e = ph_event("via_get")
        sent.append(e)
        data = base64.b64encode(json.dumps(e).encode()).decode()
        await ok(await h.get("/i/v0/e/", params={"data": data, "compression": "base64"}))
        # sendBeacon: form data=<base64> with ?compression=base64
        e = ph_event("$pageleave")
        sent.append(e)
        form = "data=" + base64.b64encode(json.dumps(envelope(e)).encode()).decode()
        await ok(
            await h.post(
                "/e/?compression=base64&beacon=1",
                content=form.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        )
        # legacy single event object, no envelope, /capture without trailing slash
        e = ph_event("legacy_single")
        sent.append(e)
        await ok(await h.post("/capture", json=e))
        # posthog-python: /batch/ envelope, distinct_id at top level, Content-Encoding: gzip
        e = {
            "uuid": str(uuid.uuid4()),
            "event": "server_side",
            "distinct_id": "py-1",
            "properties": {"$lib": "posthog-python"},
            "timestamp": NOW.isoformat(),
        }
        sent.append(e)
        await ok(
            await h.post(
                "/batch/",
                content=gzip.compress(json.dumps(envelope(e)).encode()),
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        )
        # /track with Bearer and no key in the body
        e = ph_event("bearer_only")
        e["properties"].pop("token")
        sent.append(e)
        await ok(await h.post("/track/", json=[e], headers={"Authorization": f"Bearer {API_KEY}"}))

        got = {r["event_id"]: r for r in await stored(ch, p, len(sent))}
        assert set(got) == {e["uuid"] for e in sent}
        web = got[sent[0]["uuid"]]
        assert (web["event_name"], web["user_id"], web["session_id"]) == ("$pageview", "d-1", "s-js")
        for prop in ("$current_url", "$referrer", "$browser", "$os", "$device_type", "$pathname", "utm_source"):
            assert web["properties"][prop] == sent[0]["properties"][prop]
        assert "token" not in web["properties"] and web["properties"]["$door"] == "posthog"
        assert got[sent[5]["uuid"]]["user_id"] == "py-1"


async def test_posthog_clock_skew_is_corrected_with_sent_at(make_pipeline, ch):
    async with make_pipeline() as p:
        client_now = datetime.now(UTC) + timedelta(hours=3)  # the device clock is 3 h ahead
        skewed = ph_event("skewed")
        skewed["timestamp"] = (client_now - timedelta(seconds=30)).isoformat()
        kept = ph_event("ignore_sent_at", **{"$ignore_sent_at": True})
        kept["timestamp"] = (NOW - timedelta(days=2)).isoformat()
        body = {"api_key": API_KEY, "batch": [skewed, kept], "sent_at": client_now.isoformat()}
        before = datetime.now(UTC)
        assert (await p.http.post("/batch", json=body)).status_code == 200
        got = {r["event_name"]: r["timestamp"].replace(tzinfo=UTC) for r in await stored(ch, p, 2)}
        assert before - timedelta(seconds=31) <= got["skewed"] <= datetime.now(UTC) - timedelta(seconds=29)
        assert abs(got["ignore_sent_at"] - (NOW - timedelta(days=2))) < timedelta(milliseconds=2)


async def test_segment_paths_auth_and_encodings(make_pipeline, ch):
    async with make_pipeline() as p:
        h = p.http
        ok = {"success": True}
        # analytics-next: one call per request, text/plain, writeKey in the body AND Basic
        msg = seg_message()
        r = await h.post(
            "/v1/t",
            content=json.dumps(msg).encode(),
            headers={"Content-Type": "text/plain", "Authorization": basic(API_KEY)},
        )
        assert (r.status_code, r.json()) == (200, ok)
        # page by the long path, key only in the body
        r = await h.post("/v1/page/", json=seg_message("page", name="Home", userId="u-7"))
        assert r.status_code == 200
        # rudder: gzip without a header (magic bytes), Basic only, /v1/batch
        batch = {
            "batch": [
                seg_message(
                    "identify",
                    traits=None,
                    userId="u-8",
                    writeKey=None,
                    context={"traits": {"plan": "pro"}, "library": {"name": "rudder"}},
                )
            ],
            "sentAt": NOW.isoformat(),
        }
        r = await h.post(
            "/v1/batch",
            content=gzip.compress(json.dumps(batch).encode()),
            headers={"Content-Type": "application/json", "Authorization": basic(API_KEY)},
        )
        assert r.status_code == 200, r.text
        # /v1/b with Bearer and gzip by header
        batch = {"batch": [seg_message("group", groupId="g-1", traits={"n": 1}, writeKey=None)]}
        r = await h.post(
            "/v1/b",
            content=gzip.compress(json.dumps(batch).encode()),
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 200, r.text

        got = {r["event_name"]: r for r in await stored(ch, p, 4)}
        assert set(got) == {"Clicked", "$pageview", "$identify", "$groupidentify"}
        clicked = got["Clicked"]
        assert clicked["user_id"] == "anon-1" and clicked["properties"]["$anonymous_id"] == "anon-1"
        # ajs-next ids are not UUIDs: a deterministic uuid5 over key name + id
        assert clicked["event_id"] == str(
            uuid.uuid5(uuid.UUID("6f0b6c2e-59a4-4d0e-9a55-4b1f3d7f0c10"), f"tests\x00{msg['messageId']}")
        )
        assert got["$pageview"]["user_id"] == "u-7" and got["$pageview"]["properties"]["$pathname"] == "/"
        assert got["$identify"]["properties"]["$set"] == {"plan": "pro"}
        assert got["$groupidentify"]["properties"]["$group_set"] == {"n": 1}

        # a retry of the same analytics-next message collapses onto the same row
        r = await h.post("/v1/t", content=json.dumps(msg).encode(), headers={"Content-Type": "text/plain"})
        assert r.status_code == 200
        await wait_until("retry inserted", lambda: count_rows(ch, p.db, final=False) >= 5, 30)
        assert count_rows(ch, p.db) == 4


async def test_native_endpoint_accepts_gzip(make_pipeline, ch):
    async with make_pipeline() as p:
        body = gzip.compress(json.dumps([{"event_name": "zipped", "user_id": "z"}]).encode())
        r = await p.post(content=body, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 202 and r.json()["accepted"] == 1
        assert (await stored(ch, p, 1))[0]["event_name"] == "zipped"


async def test_invalid_events_of_an_sdk_batch_go_to_the_dead_letter_queue(make_pipeline, ch, broker_settings):
    async with make_pipeline() as p:
        bad_typed = ph_event("purchase_completed")  # lacks its required typed properties
        no_user = ph_event("no_user")
        no_user["properties"].pop("distinct_id")
        good = ph_event("fine")
        r = await p.http.post("/batch", json=envelope(bad_typed, no_user, good))
        assert (r.status_code, r.json()) == (200, {"status": 1})
        assert [r["event_name"] for r in await stored(ch, p, 1)] == ["fine"]

        connection = await aio_pika.connect(broker_settings.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(broker_settings.dead_letter_queue, passive=True)
            dead = []
            for _ in range(2):
                message = await queue.get(timeout=5)
                dead.append(
                    (
                        message.headers["x-observatory-reason"],
                        json.loads(message.body)["event"],
                        message.headers["x-observatory-door"],
                    )
                )
                await message.ack()
        assert sorted(dead) == [
            ("missing_field", "no_user", "posthog"),
            ("missing_property", "purchase_completed", "posthog"),
        ]
        metrics = (await p.private.get("/metrics")).text
        assert 'ingest_events_dead_lettered_total{reason="missing_property"} 1.0' in metrics
        assert 'ingest_events_dead_lettered_total{reason="missing_field"} 1.0' in metrics


def _bomb() -> bytes:
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in ~64 KiB


@pytest.mark.parametrize(
    "case",
    [
        "truncated_gzip",
        "gzip_bomb",
        "non_utf8",
        "mixed_keys",
        "unknown_key",
        "no_key",
        "oversize",
        "too_many",
        "not_json",
        "segment_bad_basic",
    ],
)
async def test_bad_input_gets_its_status_and_writes_nothing(make_pipeline, ch, case):
    text = {"Content-Type": "text/plain"}
    good = json.dumps(envelope(ph_event())).encode()
    requests = {
        "truncated_gzip": ("/e/", gzip.compress(good)[:-12], text, 400, "bad_compression"),
        "gzip_bomb": ("/e/", _bomb(), text, 413, "decompressed_too_large"),
        "non_utf8": (
            "/batch/",
            b'{"api_key": "' + API_KEY.encode() + b'", "batch": [{"event": "\xff\xfe"}]}',
            text,
            400,
            "malformed_json",
        ),
        "mixed_keys": ("/e/", json.dumps(envelope(ph_event(), key=OTHER_KEY)).encode(), text, 401, "conflicting_keys"),
        "unknown_key": (
            "/e/",
            json.dumps(envelope(ph_event(token="nope"), key="nope")).encode(),
            text,
            401,
            "unauthorized",
        ),
        "no_key": ("/v1/t", json.dumps({**seg_message(), "writeKey": None}).encode(), text, 401, "unauthorized"),
        "oversize": ("/batch/", b" " * (2 * 1024 * 1024) + good, text, 413, "body_too_large"),
        "too_many": (
            "/batch/",
            json.dumps(envelope(*[ph_event() for _ in range(11)])).encode(),
            text,
            413,
            "batch_too_large",
        ),
        "not_json": ("/v1/batch", b"<html>", text, 400, "malformed_json"),
        "segment_bad_basic": (
            "/v1/b",
            json.dumps({"batch": [{**seg_message(), "writeKey": None}]}).encode(),
            {"Authorization": "Basic !!!"},
            401,
            "unauthorized",
        ),
    }
    path, body, headers, status, code = requests[case]
    async with make_pipeline(max_decompressed_bytes=8 * 1024 * 1024, sdk_max_body_bytes=1024 * 1024, max_batch=10) as p:
        r = await p.http.post(path, content=body, headers=headers)
        assert (r.status_code, r.json()["error"]) == (status, code), r.text
        assert API_KEY not in r.text and OTHER_KEY not in r.text
        # nothing written: a sentinel sent afterwards is the only row
        r = await p.http.post("/batch/", json=envelope(ph_event("sentinel")))
        assert r.status_code == 200
        assert [r["event_name"] for r in await stored(ch, p, 1)] == ["sentinel"]


async def test_cors_preflight_and_stubs(make_pipeline):
    async with make_pipeline(cors_origins="http://127.0.0.1:9999") as p:
        h = p.http
        pre = {
            "Origin": "http://127.0.0.1:9999",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        for path in ("/v1/b", "/e/", "/v1/events", "/flags/"):
            r = await h.options(path, headers=pre)
            assert r.status_code == 204, path
            assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
            assert r.headers["access-control-allow-credentials"] == "true"
            assert r.headers["access-control-allow-headers"] == "authorization,content-type"
            assert "POST" in r.headers["access-control-allow-methods"]
        r = await h.options("/e/", headers={**pre, "Origin": "http://evil.test"})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        r = await h.post("/flags/?v=2", json={"token": API_KEY}, headers={"Origin": "http://127.0.0.1:9999"})
        assert r.status_code == 200 and r.json()["featureFlags"] == {}
        assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
        r = await h.post("/decide/?v=3", json={})
        assert r.status_code == 200 and r.json()["flags"] == {}
        r = await h.get(f"/array/{API_KEY}/config")
        assert (r.status_code, r.json()) == (200, {})
    async with make_pipeline(cors_origins="*") as p:
        r = await p.http.options(
            "/v1/t", headers={"Origin": "http://anything.test", "Access-Control-Request-Method": "POST"}
        )
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "http://anything.test"


async def test_sdk_doors_rate_limit_with_retry_after_and_write_nothing(make_pipeline, ch):
    async with make_pipeline(rate_limit_events_per_s=0.01, rate_limit_burst=3) as p:
        r = await p.http.post("/batch/", json=envelope(ph_event("within0"), ph_event("within1")))
        assert r.status_code == 200  # 2 of the 3 tokens
        r = await p.http.post("/batch/", json=envelope(*[ph_event(f"over{i}") for i in range(3)]))
        assert (r.status_code, r.json()["error"]) == (429, "rate_limited") and int(r.headers["retry-after"]) >= 1
        r = await p.http.post(
            "/v1/batch", json={"batch": [seg_message() for _ in range(3)]}, headers={"Authorization": basic(API_KEY)}
        )
        assert r.status_code == 429 and r.headers["retry-after"]
        r = await p.http.post("/batch/", json=envelope(*[ph_event(f"huge{i}") for i in range(5)]))
        assert (r.status_code, r.json()["error"]) == (413, "batch_over_burst")  # could never pass: no retry
        assert sorted(r["event_name"] for r in await stored(ch, p, 2)) == ["within0", "within1"]
