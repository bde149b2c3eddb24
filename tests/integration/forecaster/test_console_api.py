"""The console's read API over hand-built events whose answers are stated by hand: the web overview
(every panel from one sessions pass, each filter, the previous period), live visitors, the funnel
with user-chosen steps and its 400s, a forecast's history. Half of the events are inserted twice
(redelivered batches): nothing may count twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from observatory.settings import StoreSettings
from tests.conftest import unique
from tests.integration.analytics.reference import Reference
from tests.integration.forecaster.conftest import NOW
from tests.integration.shopdata import load, utc

DAY = utc(2026, 3, 2)  # the range [DAY, DAY + 1 day); the previous period is 2026-03-01
GOOGLE, TCO, OWN = "https://www.google.com/", "https://t.co/x", "https://shop.example/"
DESKTOP = {"$device_type": "Desktop", "$browser": "Chrome", "$os": "Windows", "$ip": "192.0.2.1"}  # DE
MOBILE_FR = {"$device_type": "Mobile", "$browser": "Safari", "$os": "iOS", "$ip": "192.0.2.70"}  # FR
MOBILE_DE = {"$device_type": "Mobile", "$browser": "Chrome", "$os": "Android", "$ip": "192.0.2.2"}  # DE
TABLET_US = {"$device_type": "Tablet", "$browser": "Safari", "$os": "iOS", "$ip": "198.51.100.5"}  # US
LINUX_GB = {"$device_type": "Desktop", "$browser": "Firefox", "$os": "Linux", "$ip": "192.0.2.130"}  # GB


def _event(name, user, at, session="", key="web", **props):
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": name,
        "user_id": user,
        "session_id": session,
        "source": key,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "properties": props,
    }


def pv(user, at, path, session="", key="web", device=DESKTOP, referrer=OWN, name="$pageview", **extra):
    props = {"$pathname": path, "$current_url": "https://shop.example" + path, "$referrer": referrer, **device}
    return _event(name, user, at, session, key, **props, **extra)


def h(hour, minute=0, second=0, day=DAY):
    return day + timedelta(hours=hour, minutes=minute, seconds=second)


WEB_EVENTS = [
    # S1: a, session s1, desktop DE, from Google: / -> /p1 -> /checkout (300 s, 3 views)
    pv("a", h(10), "/", "s1", referrer=GOOGLE),
    pv("a", h(10, 2), "/p1", "s1"),
    pv("a", h(10, 5), "/checkout", "s1"),
    _event("add_to_cart", "a", h(10, 3), "s1", product_id="p-1", price=5.0, quantity=1),  # not web
    # S2: b, session s2, mobile FR, direct: /p1 (bounce)
    pv("b", h(11), "/p1", "s2", device=MOBILE_FR, referrer="$direct"),
    # S3: a, no session id, mobile DE, campaign "spring": / -> /p2 (600 s)
    pv("a", h(14), "/", device=MOBILE_DE, referrer="$direct", utm_source="news", utm_campaign="spring"),
    pv("a", h(14, 10), "/p2", device=MOBILE_DE),
    # S4: c, session s4, key "app", tablet US, from t.co: /pricing, then leaves 60 s later (a bounce)
    pv("c", h(20), "/pricing", "s4", key="app", device=TABLET_US, referrer=TCO),
    pv("c", h(20, 1), "/pricing", "s4", key="app", device=TABLET_US, name="$pageleave"),
    # the previous day: d, session s5, desktop GB, direct: / -> /p1 (30 s)
    pv("d", h(9, day=DAY - timedelta(days=1)), "/", "s5", device=LINUX_GB, referrer="$direct"),
    pv("d", h(9, 0, 30, day=DAY - timedelta(days=1)), "/p1", "s5", device=LINUX_GB),
]
LIVE_EVENTS = [  # NOW = 2026-03-04 15:00
    pv("x", NOW - timedelta(minutes=4), "/"),
    pv("x", NOW - timedelta(minutes=3), "/p1"),
    pv("y", NOW - timedelta(minutes=2), "/", key="app", name="$pageleave"),
    pv("z", NOW - timedelta(minutes=5, seconds=1), "/"),  # just outside 5 minutes
    pv("f", NOW + timedelta(seconds=1), "/"),  # after now
    _event("add_to_cart", "w", NOW - timedelta(minutes=1), product_id="p-1", price=5.0, quantity=1),
]
T0 = utc(2026, 2, 20, 12)
FUNNEL_EVENTS = [
    *[
        _event(n, "u1", T0 + timedelta(minutes=i))
        for i, n in enumerate(["$pageview", "add_to_cart", "checkout_started", "purchase_completed"])
    ],
    _event("$pageview", "u2", T0),
    _event("add_to_cart", "u2", T0 + timedelta(minutes=1)),
    _event("add_to_cart", "u3", T0),  # wrong order: step 1 only
    _event("$pageview", "u3", T0 + timedelta(minutes=1)),
    _event("$pageview", "u4", T0),  # skips add_to_cart: step 1 only
    _event("checkout_started", "u4", T0 + timedelta(minutes=2)),
]


@pytest.fixture(scope="module")
def store(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("console"))
    client = chdb.client()
    load(client, store, [*WEB_EVENTS, *LIVE_EVENTS, *FUNNEL_EVENTS], dup_ratio=0.5)
    client.close()
    return store


async def overview(make_forecaster, store, **params):
    async with make_forecaster(store) as (_, http):
        r = await http.get("/v1/web/overview", params={"start": "2026-03-02", "end": "2026-03-03", **params})
    assert r.status_code == 200, r.text
    return r.json()


def panel(body, name, *keys):
    return [tuple(row[k] for k in ("value", *keys)) for row in body[name]]


async def test_web_overview_every_panel(store, make_forecaster):
    body = await overview(make_forecaster, store, granularity="hour")
    assert body["totals"] == {
        "visitors": 3,
        "pageviews": 7,
        "sessions": 4,
        "bounces": 2,
        "bounce_rate": 0.5,
        "avg_session_duration_s": (300 + 0 + 600 + 60) / 4,
        "pages_per_session": 7 / 4,
    }
    assert body["previous"] | {"avg_session_duration_s": 0} == {
        "visitors": 1,
        "pageviews": 2,
        "sessions": 1,
        "bounces": 0,
        "bounce_rate": 0.0,
        "avg_session_duration_s": 0,
        "pages_per_session": 2.0,
    }
    assert body["previous"]["avg_session_duration_s"] == 30
    assert body["change"] == {
        "visitors": 2.0,
        "pageviews": 2.5,
        "sessions": 3.0,
        "bounces": None,
        "bounce_rate": 0.5,
        "avg_session_duration_s": 7.0,
        "pages_per_session": -0.125,
    }
    assert body["range"] == {
        "start": "2026-03-02T00:00:00Z",
        "end": "2026-03-03T00:00:00Z",
        "previous_start": "2026-03-01T00:00:00Z",
        "previous_end": "2026-03-02T00:00:00Z",
        "granularity": "hour",
    }
    assert [(p["bucket"], p["sessions"], p["pageviews"]) for p in body["series"]] == [
        ("2026-03-02T10:00:00Z", 1, 3),
        ("2026-03-02T11:00:00Z", 1, 1),
        ("2026-03-02T14:00:00Z", 1, 2),
        ("2026-03-02T20:00:00Z", 1, 1),
    ]
    assert panel(body, "pages", "pageviews", "visitors") == [
        ("/", 2, 1),
        ("/p1", 2, 2),
        ("/checkout", 1, 1),
        ("/p2", 1, 1),
        ("/pricing", 1, 1),
    ]
    assert panel(body, "entry_pages", "sessions", "visitors", "bounce_rate") == [
        ("/", 2, 1, 0.0),
        ("/p1", 1, 1, 1.0),
        ("/pricing", 1, 1, 1.0),
    ]
    assert panel(body, "exit_pages", "sessions") == [("/checkout", 1), ("/p1", 1), ("/p2", 1), ("/pricing", 1)]
    assert panel(body, "sources", "sessions", "pageviews") == [
        ("campaign", 1, 2),
        ("direct", 1, 1),
        ("search", 1, 3),
        ("social", 1, 1),
    ]
    assert panel(body, "referrers", "sessions") == [("", 2), ("google.com", 1), ("t.co", 1)]
    assert panel(body, "utm_campaigns", "sessions") == [("", 3), ("spring", 1)]
    assert panel(body, "devices", "sessions", "visitors") == [("mobile", 2, 2), ("desktop", 1, 1), ("tablet", 1, 1)]
    assert panel(body, "browsers", "sessions") == [("Chrome", 2), ("Safari", 2)]
    assert panel(body, "os", "sessions") == [("iOS", 2), ("Android", 1), ("Windows", 1)]
    assert panel(body, "countries", "sessions", "bounce_rate") == [("DE", 2, 0.0), ("FR", 1, 1.0), ("US", 1, 1.0)]
    assert body["filters"] == {} and body["message"] is None


# filter -> (sessions, visitors, pageviews, bounces) of the sessions it keeps, and the pages panel
FILTERS = {
    "country=DE": ({"country": "DE"}, (2, 1, 5, 0), [("/", 2), ("/checkout", 1), ("/p1", 1), ("/p2", 1)]),
    "device=mobile": ({"device": "mobile"}, (2, 2, 3, 1), [("/", 1), ("/p1", 1), ("/p2", 1)]),
    "source=search": ({"source": "search"}, (1, 1, 3, 0), [("/", 1), ("/checkout", 1), ("/p1", 1)]),
    "page=/p1": ({"page": "/p1"}, (2, 2, 4, 1), [("/p1", 2), ("/", 1), ("/checkout", 1)]),
    "site=app": ({"site": "app"}, (1, 1, 1, 1), [("/pricing", 1)]),
    "referrer=t.co": ({"referrer": "t.co"}, (1, 1, 1, 1), [("/pricing", 1)]),
    "browser=Safari": ({"browser": "Safari"}, (2, 2, 2, 2), [("/p1", 1), ("/pricing", 1)]),
    "os=Android": ({"os": "Android"}, (1, 1, 2, 0), [("/", 1), ("/p2", 1)]),
    "country=DE&device=mobile": ({"country": "DE", "device": "mobile"}, (1, 1, 2, 0), [("/", 1), ("/p2", 1)]),
}


@pytest.mark.parametrize("name", FILTERS)
async def test_web_overview_filters_apply_to_every_panel(store, make_forecaster, name):
    params, (sessions, visitors, pageviews, bounces), pages = FILTERS[name]
    body = await overview(make_forecaster, store, **params)
    t = body["totals"]
    assert (t["sessions"], t["visitors"], t["pageviews"], t["bounces"]) == (sessions, visitors, pageviews, bounces)
    assert body["filters"] == params
    assert panel(body, "pages", "pageviews") == pages
    for name in ("series", "entry_pages", "exit_pages", "sources", "referrers", "devices", "countries", "browsers"):
        assert sum(row["sessions"] for row in body[name]) == sessions, name
    if "site" in params:  # the previous period has no session from the key "app"
        assert body["previous"]["sessions"] == 0 and body["change"]["sessions"] is None


async def test_web_overview_empty_state_and_bad_parameters(store, make_forecaster):
    body = await overview(make_forecaster, store, country="JP")
    assert body["totals"]["sessions"] == 0 and body["pages"] == [] and body["series"] == []
    assert body["message"] == "no pageviews between 2026-03-02T00:00:00Z and 2026-03-03T00:00:00Z with country=JP"
    async with make_forecaster(store) as (_, http):
        both = await http.get("/v1/web/overview", params={"period": "7d", "start": "2026-03-01"})
        unknown = await http.get("/v1/web/overview", params={"contry": "DE"})
        period = await http.get("/v1/web/overview", params={"period": "2w"})
        quote = await http.get("/v1/web/overview", params={"page": "/' OR 1=1 --", "start": "2026-03-02"})
        week = await http.get("/v1/web/overview", params={"period": "7d"})
    assert both.status_code == 422 and both.json()["parameter"] == "period"
    assert unknown.status_code == 422 and unknown.json()["parameter"] == "contry"
    assert period.status_code == 422 and "7d" in period.json()["message"]
    assert quote.status_code == 200 and quote.json()["totals"]["sessions"] == 0  # a value, never SQL
    w = week.json()  # NOW = 2026-03-04 15:00: the 7 days before the next midnight
    assert w["range"]["start"] == "2026-02-26T00:00:00Z" and w["range"]["end"] == "2026-03-05T00:00:00Z"
    # 4 sessions that day, 1 the day before, and of the live events x's, z's and f's (y only left a page)
    assert w["totals"]["sessions"] == 4 + 1 + 3


async def test_live_visitors(store, make_forecaster):
    async with make_forecaster(store) as (_, http):
        five = (await http.get("/v1/web/live")).json()
        ten = (await http.get("/v1/web/live", params={"minutes": 10})).json()
        app = (await http.get("/v1/web/live", params={"site": "app"})).json()
        bad = await http.get("/v1/web/live", params={"minutes": 0})
    assert five == {
        "visitors": 2,  # x (twice) and y; z left 5 min 1 s ago, f is in the future, w is no web event
        "minutes": 5,
        "since": "2026-03-04T14:55:00Z",
        "as_of": "2026-03-04T15:00:00Z",
        "message": None,
    }
    assert ten["visitors"] == 3 and app["visitors"] == 1
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("steps", "users"),
    [
        ("$pageview,add_to_cart,checkout_started,purchase_completed", [4, 2, 1, 1]),
        ("add_to_cart,purchase_completed", [3, 1]),
        ("$pageview,checkout_started", [4, 2]),
    ],
)
async def test_funnel_with_chosen_steps(store, make_forecaster, steps, users):
    async with make_forecaster(store) as (_, http):
        r = await http.get("/v1/analytics/funnel", params={"steps": steps, "start": "2026-02-20", "end": "2026-02-21"})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [(row["step"], row["event_name"], row["users"]) for row in rows] == [
        (i, name, n) for i, (name, n) in enumerate(zip(steps.split(","), users), 1)
    ]
    assert [row["conversion_from_start"] for row in rows] == [n / users[0] for n in users]
    assert r.json()["parameters"]["steps"] == steps.split(",")


@pytest.mark.parametrize(
    ("steps", "says"),
    [
        ("add_to_cart", "2 to 8"),
        (",".join(f"e{i}" for i in range(9)), "got 9"),
        ("add_to_cart,,purchase_completed", "step 2 is empty"),
        ("add_to_cart,add_to_cart", "appears twice"),
        ("add_to_cart,x' OR '1'='1", "not an event name"),
    ],
)
async def test_funnel_steps_are_validated_with_a_400(store, make_forecaster, steps, says):
    async with make_forecaster(store) as (_, http):
        r = await http.get("/v1/analytics/funnel", params={"steps": steps})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_steps" and r.json()["parameter"] == "steps"
    assert says in r.json()["message"]


async def test_forecast_history_and_anomalies(shop, make_forecaster):
    store, events = shop
    async with make_forecaster(store) as (_, http):
        r = await http.get("/v1/forecast/revenue", params={"history": 10})
        plain = await http.get("/v1/forecast/revenue")
    assert r.status_code == 200, r.text
    body = r.json()
    expected = Reference(events, utc(2026, 2, 22), utc(2026, 3, 4)).revenue("day")  # the 10 complete days
    assert [(p["ds"], p["y"]) for p in body["history"]] == [
        (b.strftime("%Y-%m-%dT%H:%M:%SZ"), pytest.approx(float(v))) for b, v, *_ in expected
    ]
    assert body["history_days"] == 42 and body["min_history_days"] == 14
    for p in body["history"]:
        assert p["anomaly"] == (not p["yhat_lower"] <= p["y"] <= p["yhat_upper"])
    assert body["anomalies"] == [p for p in body["history"] if p["anomaly"]]
    assert plain.json()["history"] == [] and plain.json()["points"] == body["points"]


def web_rollup(chdb, name):
    """WEB_EVENTS (half redelivered) in a fresh database: the client, the store settings, and the web
    overview over the day rollup beside the in-request one (rollup=False), the oracle."""
    from observatory.store.analytics import Analytics
    from observatory.store.web import WebOverview

    store = StoreSettings(dsn=chdb.dsn, database=unique(name))
    client = chdb.client()
    load(client, store, WEB_EVENTS, dup_ratio=0.5)
    analytics = Analytics(client, store.database)
    return client, store, WebOverview(analytics), WebOverview(analytics, rollup=False)


def test_day_rollup_matches_the_events_and_follows_late_events(chdb):
    """Whole-day ranges read the day rollup (web_sessions): the same answer as computing the sessions
    from the events; a day is computed once, and again only after web events of that day arrive."""
    from observatory.store.web_request import parse_web

    client, store, fast, slow = web_rollup(chdb, "rollup")
    req = parse_web({"start": "2026-03-02", "end": "2026-03-03", "granularity": "hour"}, NOW)
    assert fast.overview(req) == slow.overview(req)
    stored = client.query(f"SELECT day, count() FROM {store.database}.web_sessions GROUP BY day ORDER BY day")
    assert [(d.isoformat(), n) for d, n in stored.result_rows] == [("2026-03-01", 1), ("2026-03-02", 4)]
    assert fast.refresh(req.previous[0], req.end) == 0  # nothing changed: nothing recomputed

    load(client, store, [pv("e", h(23, 59), "/late", "s9")], dup_ratio=0)  # a late event of 2026-03-02
    assert fast.refresh(req.previous[0], req.end) == 1
    late = fast.overview(req)
    assert late["totals"]["sessions"] == 5 and late["totals"]["visitors"] == 4
    assert ("/late", 1) in panel(late, "pages", "pageviews")
    assert late == slow.overview(req)
    stored = client.query(f"SELECT day, count() FROM {store.database}.web_sessions GROUP BY day ORDER BY day")
    assert [(d.isoformat(), n) for d, n in stored.result_rows] == [("2026-03-01", 1), ("2026-03-02", 5)]
    client.close()


def test_day_rollup_top_pages_and_the_low_cardinality_migration(chdb):
    """Over the rollup, the pages panel counts distinct visitors for the top `limit` paths only: every
    limit gives the in-request answer, three paths tied at one pageview ordered by path. A rollup stored
    before migration 0009 (plain String columns) answers the same after it, its columns LowCardinality."""
    from observatory.store.migrate import migrate
    from observatory.store.web_request import parse_web

    client, store, fast, slow = web_rollup(chdb, "toppages")
    db = store.database

    def req(limit):
        return parse_web({"start": "2026-03-02", "end": "2026-03-03", "limit": str(limit)}, NOW)

    for limit in (1, 2, 3, 4, 5, 100):
        assert fast.overview(req(limit)) == slow.overview(req(limit)), limit
    top3 = [("/", 2, 1), ("/p1", 2, 2), ("/checkout", 1, 1)]
    assert panel(fast.overview(req(3)), "pages", "pageviews", "visitors") == top3

    columns = f"SELECT name, type FROM system.columns WHERE database = '{db}' AND table = 'web_sessions'"
    lc = {"entry_page", "exit_page", "referrer", "campaign", "segment", "page_views"}
    assert {n: t for n, t in client.query(columns).result_rows if n in lc} == {
        **{n: "LowCardinality(String)" for n in lc - {"page_views"}},
        "page_views": "Array(LowCardinality(String))",
    }
    # as stored before 0009: plain strings, 0009 not yet applied
    client.command(
        f"ALTER TABLE {db}.web_sessions "
        + ", ".join(f"MODIFY COLUMN {n} String" for n in sorted(lc - {"page_views"}))
        + ", MODIFY COLUMN page_views Array(String) SETTINGS mutations_sync = 1"
    )
    client.command(f"ALTER TABLE {db}.schema_migrations DELETE WHERE version = 9 SETTINGS mutations_sync = 1")
    assert {t for n, t in client.query(columns).result_rows if n in lc} == {"String", "Array(String)"}
    assert [m.version for m in migrate(client, store)] == [9]
    assert {t for n, t in client.query(columns).result_rows if n in lc} == {
        "LowCardinality(String)",
        "Array(LowCardinality(String))",
    }
    assert fast.refresh(req(3).previous[0], req(3).end) == 0  # the stored days stay fresh: nothing recomputed
    assert panel(fast.overview(req(3)), "pages", "pageviews", "visitors") == top3
    assert fast.overview(req(10)) == slow.overview(req(10))
    client.close()


def test_day_rollup_counts_rows_committed_late_with_an_older_stamp(chdb):
    """A batch stamped before the day was computed but committed after it (two consumers, or skewed
    clocks) leaves the day's newest inserted_at as it was: the rollup still counts it (the day's row
    count changed). Recomputed twice with the same newest stamp, the day keeps one copy of its sessions;
    a merge collapsing duplicates causes one more computation, then the days are fresh."""
    from observatory.store.web_request import parse_web
    from tests.integration.late_commit import insert_late

    stamped = datetime.now(UTC) - timedelta(seconds=1)  # a consumer's batch, stamped before the others commit
    client, store, fast, slow = web_rollup(chdb, "latecommit")
    db = store.database
    req = parse_web({"start": "2026-03-02", "end": "2026-03-03", "granularity": "hour"}, NOW)
    assert fast.overview(req) == slow.overview(req)
    newest = f"SELECT max(inserted_at) FROM {db}.events WHERE toDate(timestamp) = '2026-03-02'"
    before = client.query(newest).result_rows[0][0]

    def version() -> int:
        return client.query(f"SELECT max(version) FROM {db}.web_session_days WHERE day = '2026-03-02'").result_rows[0][
            0
        ]

    first = version()
    insert_late(client, db, [pv("e", h(23, 59), "/late", "s9")], stamped)
    assert client.query(newest).result_rows[0][0] == before  # the day's newest stamp did not move
    late = fast.overview(req)
    assert late["totals"]["sessions"] == 5 and late["totals"]["visitors"] == 4
    assert ("/late", 1) in panel(late, "pages", "pageviews")
    assert late == slow.overview(req)
    second = version()

    insert_late(client, db, [pv("g", h(22), "/later", "s10", device=MOBILE_FR)], stamped)
    assert client.query(newest).result_rows[0][0] == before
    again = fast.overview(req)
    assert again["totals"]["sessions"] == 6 and again == slow.overview(req)
    stored = client.query(f"SELECT day, count(), uniqExact(version) FROM {db}.web_sessions GROUP BY day ORDER BY day")
    assert [(d.isoformat(), n, v) for d, n, v in stored.result_rows] == [("2026-03-01", 1, 1), ("2026-03-02", 6, 1)]
    assert version() > second > first  # each computation under a new version, though the newest stamp stayed

    client.command(f"SYSTEM START MERGES {db}.events")
    client.command(f"OPTIMIZE TABLE {db}.events FINAL")  # collapses the redelivered duplicates
    assert fast.refresh(req.previous[0], req.end) >= 1  # fewer rows: computed once more
    assert fast.refresh(req.previous[0], req.end) == 0
    assert fast.overview(req) == again
    client.close()


async def test_the_scheduler_keeps_the_console_rollups_warm(chdb, make_forecaster):
    """A page's first request must not compute a store's whole history: the scheduler's tick computes
    every day of both rollups (web: the last 180 days; business: all), and the next tick none."""
    from tests.integration.shopdata import webshop_events

    store = StoreSettings(dsn=chdb.dsn, database=unique("warm"))
    client = chdb.client()
    events = webshop_events(12, NOW, seed=4, base_sessions=40)
    load(client, store, events, dup_ratio=0.1)
    days = {datetime.fromisoformat(e["timestamp"]).astimezone(UTC).date() for e in events}
    web_days = {
        datetime.fromisoformat(e["timestamp"]).astimezone(UTC).date()
        for e in events
        if e["event_name"] in ("$pageview", "$pageleave")
    }

    def marked(table: str) -> set:
        return {r[0] for r in client.query(f"SELECT DISTINCT day FROM {store.database}.{table}").result_rows}

    assert marked("web_session_days") == set() and marked("business_days") == set()
    async with make_forecaster(store, metrics="revenue") as (app, _http):
        scheduler = app.state.forecaster.scheduler
        first = await scheduler.tick(NOW)
        assert "rollups" in first
        assert marked("web_session_days") == web_days and web_days
        assert marked("business_days") == days
        rollups = app.state.forecaster.service.rollups
        tomorrow = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), UTC)
        assert rollups.web.refresh(tomorrow - timedelta(days=181), tomorrow) == 0  # nothing left to compute
        assert "rollups" not in await scheduler.tick(NOW + timedelta(seconds=30))  # at most once a minute
        assert "rollups" in await scheduler.tick(NOW + timedelta(minutes=1))
    client.close()


async def test_metric_histories_read_the_business_rollup(chdb, make_forecaster):
    """The forecasts' daily histories of revenue, orders and dau (the forecasts page's charts and every
    fit) come from the business day rollup, equal to the raw queries' series; hourly ones (which the
    rollup does not serve) and signups (event_counts) read the events and compute no rollup day."""
    from observatory.forecaster.series import load_series
    from observatory.store.analytics import Analytics
    from tests.integration.shopdata import webshop_events

    store = StoreSettings(dsn=chdb.dsn, database=unique("histories"))
    client = chdb.client()
    events = webshop_events(10, NOW, seed=5, base_sessions=40)
    load(client, store, events, dup_ratio=0.2)
    days = {datetime.fromisoformat(e["timestamp"]).astimezone(UTC).date() for e in events}
    analytics = Analytics(client, store.database)

    def marked() -> set:
        return {r[0] for r in client.query(f"SELECT DISTINCT day FROM {store.database}.business_days").result_rows}

    async with make_forecaster(store, metrics="revenue") as (app, _http):
        service = app.state.forecaster.service
        for metric in ("revenue", "dau", "signups"):
            got = service.history(metric, "hour", NOW)
            assert got.equals(load_series(analytics, metric, "hour", NOW, service.lookback("hour"))), metric
        assert service.history("signups", "day", NOW).equals(
            load_series(analytics, "signups", "day", NOW, service.lookback("day"))
        )
        assert marked() == set()
        for metric in ("revenue", "orders", "dau"):
            got = service.history(metric, "day", NOW)
            assert len(got) >= 9 and got["y"].sum() > 0, metric
            assert got.equals(load_series(analytics, metric, "day", NOW, service.lookback("day"))), metric
        assert marked() == days - {NOW.date()}  # every complete day, from the rollup
    client.close()
