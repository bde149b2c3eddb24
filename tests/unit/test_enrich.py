"""Web enrichment on real user-agent strings of current browsers, real addresses (the geoip2fast
database shipped in the package) and the documentation ranges; acquisition sources; the IP leaves."""

from __future__ import annotations

import uuid

import orjson
import pytest

from observatory.consumer.decode import decode
from observatory.events.enrich import (
    BROWSERS,
    COLUMNS,
    OSES,
    acquisition_source,
    country,
    enrich,
    host_of,
    page_path,
    parse_user_agent,
    web_columns,
    web_props,
)

UAS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        ("desktop", "Chrome", "Windows"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 Edg/131.0.2903.86",
        ("desktop", "Edge", "Windows"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 "
        "Safari/605.1.15",
        ("desktop", "Safari", "macOS"),
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", ("desktop", "Firefox", "Linux")),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.2 Mobile/15E148 Safari/604.1",
        ("mobile", "Safari", "iOS"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/131.0.6778.103 Mobile/15E148 Safari/604.1",
        ("mobile", "Chrome", "iOS"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
        "Safari/537.36",
        ("mobile", "Chrome", "Android"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
        ("mobile", "Samsung Internet", "Android"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 "
        "Mobile/15E148 Safari/604.1",
        ("tablet", "Safari", "iOS"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        ("tablet", "Chrome", "Android"),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        ("desktop", "Chrome", "Chrome OS"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 OPR/115.0.0.0",
        ("desktop", "Opera", "Windows"),
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ("bot", "Other", "Other")),
    ("python-httpx/0.28.1", ("other", "Other", "Other")),
]


@pytest.mark.parametrize("ua, expected", UAS, ids=[e[1] + "/" + e[2] + "/" + e[0] for _, e in UAS])
def test_user_agents_of_current_browsers(ua, expected):
    assert parse_user_agent(ua) == expected


def test_values_are_bounded():
    for ua, _ in UAS:
        device, browser, os_ = parse_user_agent(ua)
        assert browser in BROWSERS and os_ in OSES


@pytest.mark.parametrize(
    "ip, cc",
    [
        ("8.8.8.8", "US"),
        ("85.214.132.117", "DE"),
        ("2a00:1450:4001:80b::200e", "DE"),
        ("192.0.2.10", "DE"),
        ("192.0.2.70", "FR"),
        ("198.51.100.200", "CA"),
        ("203.0.113.5", "JP"),
        ("2001:db8::1", "ES"),
        ("10.1.2.3", ""),
        ("127.0.0.1", ""),
        ("::1", ""),
        ("not an ip", ""),
        ("", ""),
    ],
)
def test_country_from_offline_database(ip, cc):
    assert country(ip) == cc


@pytest.mark.parametrize(
    "props, source",
    [
        ({"$current_url": "https://shop.example/p", "$referrer": "$direct"}, "direct"),
        ({"$current_url": "https://shop.example/p"}, "direct"),
        ({"$current_url": "https://shop.example/p", "$referrer": "https://www.google.de/"}, "search"),
        ({"$current_url": "https://shop.example/p", "$referrer": "https://duckduckgo.com/?q=x"}, "search"),
        ({"$current_url": "https://shop.example/p", "$referrer": "https://l.facebook.com/l.php"}, "social"),
        ({"$current_url": "https://shop.example/p", "$referrer": "https://t.co/abc"}, "social"),
        ({"$current_url": "https://shop.example/p", "$referrer": "https://blog.other.org/post"}, "referral"),
        ({"$current_url": "https://shop.example/p", "$referrer": "https://shop.example/"}, "internal"),
        (
            {
                "$current_url": "https://shop.example/p?utm_source=news",
                "$referrer": "https://www.google.com/",
                "utm_source": "newsletter",
                "utm_medium": "email",
            },
            "campaign",
        ),
        ({"order_id": "o-1"}, ""),
    ],
)
def test_acquisition_source(props, source):
    own = host_of(props.get("$current_url", ""))
    assert acquisition_source(props, host_of(props.get("$referrer", "")), own) == source


def test_page_path_and_hosts():
    assert page_path({"$current_url": "https://shop.example/products/p-7?x=1#top"}) == "/products/p-7"
    assert page_path({"$pathname": "/cart", "$current_url": "https://shop.example/other"}) == "/cart"
    assert page_path({}) == ""
    assert host_of("https://WWW.Example.COM:8443/a") == "example.com"
    assert host_of("$direct") == ""


def test_sdk_values_win_over_the_user_agent():
    cols, _ = enrich(
        {"ingest_user_agent": UAS[0][0]}, {"$browser": "Mobile Safari", "$os": "iOS", "$device_type": "Mobile"}
    )
    assert cols[:3] == ["mobile", "Safari", "iOS"]
    cols, _ = enrich({"ingest_user_agent": UAS[0][0]}, {"$raw_user_agent": UAS[3][0]})
    assert cols[:3] == ["desktop", "Firefox", "Linux"]


def _event(**kw):
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "$pageview",
        "user_id": "u",
        "session_id": "",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "received_at": "2026-11-20T10:00:01.000Z",
        "source": "web",
        **kw,
    }


def test_ip_is_dropped_unless_kept():
    ev = _event(
        ingest_client_ip="198.51.100.7",
        ingest_user_agent=UAS[4][0],
        properties={"$ip": "192.0.2.130", "$current_url": "https://shop.example/", "$session_id": "s-1"},
    )
    for body in (orjson.dumps([ev]), orjson.dumps([ev, {**ev, "event_id": "bad"}])):  # fast and per-event paths
        named = orjson.loads(decode(body).rows[0].json)
        assert named["country"] == "GB"  # `$ip` (SDK) wins over the connection's address
        assert named["client_ip"] == ""
        assert "192.0.2" not in orjson.dumps(named).decode() and "198.51" not in orjson.dumps(named).decode()
        assert not {"ingest_client_ip", "ingest_user_agent"} & set(named)
        assert named["session_id"] == "s-1"  # PostHog's $session_id fills the session column
        assert (named["device_type"], named["browser"], named["os"]) == ("mobile", "Safari", "iOS")
    kept = orjson.loads(decode(orjson.dumps([ev]), keep_ip=True).rows[0].json)
    assert kept["client_ip"] == "192.0.2.130" and kept["properties"]["$ip"] == "192.0.2.130"


def test_backend_events_pass_through_untouched():
    ev = _event(
        event_name="purchase_completed",
        ingest_client_ip="10.0.0.5",
        ingest_user_agent="python-httpx/0.28",
        properties={"order_id": "o-1"},
    )
    body = orjson.dumps([ev])
    (item,) = decode(body).rows
    assert orjson.loads(bytes(item.json)) == ev  # the same text: ClickHouse drops the ingest_* keys


BASE_COLUMNS = {  # what UAS[4] (iPhone Safari) on the demo shop's home page gives, written out
    "device_type": "mobile",
    "browser": "Safari",
    "os": "iOS",
    "country": "US",  # 198.51.100.0/25, a documentation range
    "acquisition_source": "search",
    "referrer_host": "google.com",
    "page_path": "/",
    "client_ip": "",
}


@pytest.mark.parametrize(
    "change, expected",
    [
        ({}, {"session_id": "s-1"}),  # the usual case: the enrichment keys appended to the text
        ({"session_id": ""}, {"session_id": "s-9"}),  # an empty session is overwritten, not repeated
        ({"session_id": None}, {"session_id": "s-9"}),
        ({"props": {"$ip": "192.0.2.130"}}, {"session_id": "s-1", "country": "GB"}),  # $ip wins, then leaves
        ({"country": "XX", "page_path": "/forged"}, {"session_id": "s-1"}),  # column keys sent: overwritten
        ({"ingest_first": True}, {"session_id": "s-1"}),  # ingest_* not last (another encoder): rebuilt
    ],
)
def test_every_event_gets_each_enrichment_key_once(change, expected):
    change = dict(change)
    props = {
        "$current_url": "https://shop.example/",
        "$referrer": "https://www.google.com/search?q=x",
        "$session_id": "s-9",
        **change.pop("props", {}),
    }
    front = (
        {"ingest_client_ip": "198.51.100.7", "ingest_user_agent": UAS[4][0]} if change.pop("ingest_first", 0) else {}
    )
    ev = {**front, **_event(session_id="s-1", properties=props), **change}
    if not front:
        ev.update(ingest_client_ip="198.51.100.7", ingest_user_agent=UAS[4][0])  # last, as ingest writes them
    for body in (orjson.dumps([ev]), orjson.dumps([ev, {**ev, "event_id": "bad"}])):  # fast and per-event paths
        text = bytes(decode(body).rows[0].json)
        stored = orjson.loads(text)
        for key in (*BASE_COLUMNS, "session_id"):
            assert text.count(f'"{key}":'.encode()) == 1, (key, text)
        assert {k: stored[k] for k in BASE_COLUMNS} == {
            **BASE_COLUMNS,
            **{k: v for k, v in expected.items() if k in BASE_COLUMNS},
        }
        assert stored["session_id"] == expected["session_id"]
        assert b"198.51" not in text and b"192.0.2" not in text and b"ingest_" not in text
        assert stored["properties"] == {k: v for k, v in props.items() if k != "$ip"}


@pytest.mark.parametrize(
    "utm, source",
    [
        ({"utm_source": "newsletter"}, "campaign"),
        ({"utm_content": "banner"}, "campaign"),
        ({"utm_source": "  "}, "search"),  # blank: not a campaign
        ({"utm_medium": None}, "search"),
        ({}, "search"),
    ],
)
def test_web_columns_source_matches_acquisition_source(utm, source):
    """The consumer's path (web_columns over the decoded WebProps) against the dict path."""
    props = {"$current_url": "https://shop.example/p", "$referrer": "https://www.google.com/", **utm}
    columns = dict(zip(COLUMNS, web_columns(web_props(props), None, None)))
    assert columns["acquisition_source"] == source
    assert acquisition_source(props, "www.google.com", "shop.example") == source


@pytest.mark.parametrize(
    "props",
    [
        {"$ip": "192.0.2.130", "$current_url": "https://shop.example/"},  # first key
        {"$current_url": "https://shop.example/", "$ip": "192.0.2.130", "plan": "pro"},  # in the middle
        {"$current_url": "https://shop.example/", "$ip": "192.0.2.130"},  # last key
        {"$current_url": "https://shop.example/", "$ip": "2001:db8::1", "note": '"$ip":"2001:db8::1"'},  # in a string
        {"$current_url": "https://shop.example/", "$ip": "192.0.2.130", "nested": {"$ip": "192.0.2.130"}},
        {"$current_url": "https://shop.example/", "$ip": 3232235777},  # not a string
        {"$current_url": "https://shop.example/", "$ip": None},
        {"$current_url": "https://shop.example/", "$ip": "ünïcode"},
        {"$current_url": "https://shop.example/", "copy": "192.0.2.130", "$ip": "192.0.2.130"},
    ],
)
def test_ip_cut_from_the_text_equals_the_rebuilt_event(props):
    """The consumer drops `$ip` by cutting it out of the event's text when it can (decode._without_ip)
    and by rebuilding the event otherwise: both give the same stored event, without the property."""
    ev = {**_event(session_id="s-1", properties=props), "ingest_client_ip": "198.51.100.7"}
    ev["ingest_user_agent"] = UAS[4][0]
    fast = orjson.loads(bytes(decode(orjson.dumps([ev])).rows[0].json))
    rebuilt = orjson.loads(bytes(decode(orjson.dumps([ev, {**ev, "event_id": "bad"}])).rows[0].json))
    times = ("timestamp", "received_at")  # the per-event path writes them in another (equal) form
    assert {k: v for k, v in fast.items() if k not in times} == {k: v for k, v in rebuilt.items() if k not in times}
    assert "$ip" not in fast["properties"]
    assert fast["properties"] == {k: v for k, v in props.items() if k != "$ip"}
