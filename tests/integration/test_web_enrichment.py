"""Web enrichment through the real pipeline (ingest → RabbitMQ → consumer → ClickHouse): the request's
User-Agent yields device, browser and OS; the client IP yields the country and is then dropped, from
the columns and from the properties, unless the consumer is told to keep it."""

from __future__ import annotations

import uuid

from observatory.settings import ConsumerSettings
from tests.integration.conftest import count_rows, wait_until

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.2 Mobile/15E148 Safari/604.1"
)


def pageview(ip: str) -> dict:
    return {
        "event_name": "$pageview",
        "user_id": "v-1",
        "event_id": str(uuid.uuid4()),
        "properties": {
            "$current_url": "https://shop.example/products/p-7?utm_source=news",
            "$referrer": "https://www.google.com/",
            "$ip": ip,
            "$session_id": "s-42",
            "utm_source": "newsletter",
        },
    }


def stored(ch, db: str) -> dict:
    rows = ch.query(f"SELECT * FROM {db}.events FINAL")
    (row,) = rows.result_rows
    return dict(zip(rows.column_names, row))


async def test_ip_becomes_a_country_and_is_not_stored(make_pipeline, ch):
    async with make_pipeline() as p:
        r = await p.post(pageview("192.0.2.70"), headers={"User-Agent": IPHONE})
        assert r.status_code == 202, r.text
        await wait_until("the pageview stored", lambda: count_rows(ch, p.db) == 1)
    row = stored(ch, p.db)
    assert (row["device_type"], row["browser"], row["os"]) == ("mobile", "Safari", "iOS")
    assert row["country"] == "FR" and row["client_ip"] == ""
    assert (row["acquisition_source"], row["referrer_host"], row["page_path"]) == (
        "campaign",
        "google.com",
        "/products/p-7",
    )
    assert row["session_id"] == "s-42"
    assert "192.0.2.70" not in str(row) and "$ip" not in row["properties"]
    assert "user_agent" not in row["properties"] and "client_ip" not in row["properties"]


async def test_the_ip_is_kept_when_the_setting_says_so(make_pipeline, ch):
    keep = ConsumerSettings(flush_ms=50, queue_poll_s=0.5, store_client_ip=True)
    async with make_pipeline(consumer_settings=keep) as p:
        body = pageview("198.51.100.9")
        del body["properties"]["$ip"]  # the connection's address (the test client's) is used
        r = await p.post(body, headers={"User-Agent": IPHONE})
        assert r.status_code == 202, r.text
        await wait_until("the pageview stored", lambda: count_rows(ch, p.db) == 1)
    row = stored(ch, p.db)
    assert row["client_ip"] == "127.0.0.1" and row["country"] == ""  # loopback: no country
    assert row["device_type"] == "mobile"


async def test_posthog_door_events_are_enriched_too(make_pipeline, ch):
    """The demo's door: a PostHog batch (api_key in the body, $session_id and $ip as properties)."""
    from observatory.demo.web import to_posthog
    from tests.integration.conftest import API_KEY

    ev = pageview("203.0.113.200")
    ev["timestamp"] = "2026-11-20T10:00:00.000Z"
    async with make_pipeline() as p:
        r = await p.http.post(
            "/batch/", json={"api_key": API_KEY, "batch": [to_posthog(ev)]}, headers={"User-Agent": IPHONE}
        )
        assert r.status_code == 200, r.text
        await wait_until("the pageview stored", lambda: count_rows(ch, p.db) == 1)
    row = stored(ch, p.db)
    assert (row["event_name"], row["user_id"], row["session_id"]) == ("$pageview", "v-1", "s-42")
    assert (row["device_type"], row["country"], row["client_ip"]) == ("mobile", "BR", "")
    assert "203.0.113.200" not in str(row)
