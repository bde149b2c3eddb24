"""Every analytics query returns exactly the numbers computed independently in Python from the same
generated events, although 20% of the events were inserted twice (redelivered batches, merges
stopped so the duplicates really sit on disk)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from observatory.settings import StoreSettings
from observatory.store.analytics import Analytics, ParameterError, UnknownQuery, get_query, parse_params, queries
from tests.conftest import unique
from tests.integration.analytics.reference import Reference
from tests.integration.shopdata import load, utc, webshop_events

END = utc(2026, 3, 2)  # a Monday: history covers 5 weeks before it
START = utc(2026, 2, 9)  # range = the last 3 weeks, so first-seen/look-backs reach before it


@pytest.fixture(scope="module")
def shop(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("analytics"))
    client = chdb.client()
    events = webshop_events(35, END, seed=11, base_sessions=120)
    loaded = load(client, store, events, dup_ratio=0.2)
    yield Analytics(client, store.database), loaded
    client.close()


@pytest.fixture(scope="module")
def ref(shop) -> Reference:
    return Reference(shop[1].events, START, END)


def run(analytics: Analytics, name: str, **params):
    return analytics.run(name, start=START, end=END, **params).rows


def test_duplicates_are_really_on_disk(shop):
    analytics, loaded = shop
    db = analytics.database
    raw = analytics.client.query(f"SELECT count() FROM {db}.events").result_rows[0][0]
    final = analytics.client.query(f"SELECT count() FROM {db}.events FINAL").result_rows[0][0]
    assert loaded.duplicates > 1000
    assert raw == len(loaded.events) + loaded.duplicates
    assert final == len(loaded.events)


def test_without_final_revenue_would_be_wrong(shop, ref):
    """The guard the FINAL rule protects against: the same query without FINAL double counts."""
    analytics, _ = shop
    sql = analytics.sql("revenue").replace("FINAL", "")
    rows = analytics.client.query(
        sql, parameters={"granularity": "day", "start": "2026-02-09 00:00:00.000", "end": "2026-03-02 00:00:00.000"}
    ).result_rows
    assert sum(r[1] for r in rows) > sum(r[1] for r in ref.revenue("day"))
    assert [tuple(r) for r in run(analytics, "revenue", granularity="day")] == ref.revenue("day")


def test_dau(shop, ref):
    rows = run(shop[0], "dau")
    assert rows == ref.dau()
    assert len(rows) == 21


@pytest.mark.parametrize("granularity", ["hour", "day", "week", "month"])
def test_active_users(shop, ref, granularity):
    assert run(shop[0], "active_users", granularity=granularity) == ref.active_users(granularity)


def test_wau_mau(shop, ref):
    rows = run(shop[0], "wau_mau")
    assert rows == ref.wau_mau()
    assert all(d <= w <= m for _, d, w, m, _ in rows)


@pytest.mark.parametrize("granularity", ["day", "week"])
def test_new_vs_returning(shop, ref, granularity):
    rows = run(shop[0], "new_vs_returning", granularity=granularity)
    assert rows == ref.new_vs_returning(granularity)
    assert all(a == n + r for _, a, n, r in rows)
    assert sum(r for *_, r in rows) > 0  # history before the range makes returning users


@pytest.mark.parametrize("window_s", [3600, 7 * 86400])
def test_funnel(shop, ref, window_s):
    rows = run(shop[0], "funnel", window_seconds=window_s)
    assert rows == ref.funnel(window_s)
    users = [r[2] for r in rows]
    assert users == sorted(users, reverse=True) and users[-1] > 0


def test_funnel_window_matters(shop):
    short = run(shop[0], "funnel", window_seconds=60)
    long = run(shop[0], "funnel", window_seconds=7 * 86400)
    assert short[-1][2] < long[-1][2]


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_revenue_orders_aov(shop, ref, granularity):
    assert run(shop[0], "revenue", granularity=granularity) == ref.revenue(granularity)


def test_revenue_by_payment_method(shop, ref):
    rows = run(shop[0], "revenue_by_payment_method")
    assert rows == ref.revenue_by_payment_method()
    assert {r[0] for r in rows} == {"card", "paypal", "apple_pay", "bank_transfer"}


def test_top_products_by_views(shop, ref):
    assert run(shop[0], "top_products_by_views", limit=10) == ref.top_products_by_views(10)
    assert len(run(shop[0], "top_products_by_views", limit=3)) == 3


def test_top_products_by_revenue(shop, ref):
    assert run(shop[0], "top_products_by_revenue", limit=15) == ref.top_products_by_revenue(15)


def test_add_to_cart_rate(shop, ref):
    assert run(shop[0], "add_to_cart_rate") == ref.add_to_cart_rate()


@pytest.mark.parametrize("granularity", ["day", "week"])
def test_refund_rate(shop, ref, granularity):
    rows = run(shop[0], "refund_rate", granularity=granularity)
    assert rows == ref.refund_rate(granularity)
    assert sum(r[2] for r in rows) > 0


@pytest.mark.parametrize("granularity", ["day", "month"])
def test_payment_failure_rate(shop, ref, granularity):
    rows = run(shop[0], "payment_failure_rate", granularity=granularity)
    assert rows == ref.payment_failure_rate(granularity)
    assert sum(r[2] for r in rows) > 0


def test_retention_cohorts(shop, ref):
    rows = run(shop[0], "retention_cohorts")
    assert rows == ref.retention_cohorts()
    assert {r[0].isoformat() for r in rows} == {"2026-02-09", "2026-02-16", "2026-02-23"}
    assert all(r[3] == r[2] for r in rows if r[1] == 0)  # week 0 = the whole cohort


@pytest.mark.parametrize("name", ["add_to_cart", "user_signup", "purchase_completed"])
def test_event_counts(shop, ref, name):
    assert run(shop[0], "event_counts", granularity="day", event_name=name) == ref.event_counts(name, "day")


def test_kpi_summary(shop, ref):
    assert run(shop[0], "kpi_summary") == ref.kpi_summary()


def test_unaligned_range(shop):
    """A range that starts and ends mid-day still matches the reference (time-level queries)."""
    analytics, loaded = shop
    start, end = utc(2026, 2, 12, 7), utc(2026, 2, 26, 19)
    r = Reference(loaded.events, start, end)
    assert analytics.run("revenue", start=start, end=end, granularity="hour").rows == r.revenue("hour")
    assert analytics.run("kpi_summary", start=start, end=end).rows == r.kpi_summary()


def test_every_query_is_covered():
    tested = {
        "dau",
        "active_users",
        "wau_mau",
        "new_vs_returning",
        "funnel",
        "revenue",
        "revenue_by_payment_method",
        "top_products_by_views",
        "top_products_by_revenue",
        "add_to_cart_rate",
        "refund_rate",
        "payment_failure_rate",
        "retention_cohorts",
        "event_counts",
        "kpi_summary",
        "web_overview",
        "web_traffic",
        "session_duration",
        "top_pages",
        "entry_pages",
        "exit_pages",
        "top_referrers",
        "traffic_sources",
        "web_breakdown",
        "churn_features",
        "churn_segments",  # churn_segments: tests/integration/churn
        "top_exceptions",
    }  # top_exceptions: test_exception_query.py
    assert set(queries()) == tested


def test_parameter_parsing_refuses_bad_input():
    q = get_query("revenue")
    with pytest.raises(ParameterError, match="granularity"):
        parse_params(q, {"granularity": "fortnight"})
    with pytest.raises(ParameterError, match="start"):
        parse_params(q, {"start": "2026-03-01", "end": "2026-02-01"})
    with pytest.raises(ParameterError, match="time zone"):
        parse_params(q, {"start": "2026-03-01T10:00:00"})
    with pytest.raises(ParameterError, match="not a parameter"):
        parse_params(q, {"limit": "5"})
    with pytest.raises(ParameterError, match="buckets"):
        parse_params(q, {"start": "2020-01-01", "end": "2026-01-01", "granularity": "hour"})
    with pytest.raises(ParameterError, match="between"):
        parse_params(get_query("top_products_by_views"), {"limit": "0"})
    with pytest.raises(ParameterError, match="event_name"):
        parse_params(get_query("event_counts"), {})
    with pytest.raises(ParameterError, match="dimension"):
        parse_params(get_query("web_breakdown"), {"dimension": "ip"})
    with pytest.raises(UnknownQuery):
        get_query("drop_table")


# -- web analytics (sessions, pages, sources, devices) ---------------------------------------------
@pytest.fixture(scope="module")
def web(shop):
    from tests.integration.analytics.web_reference import WebReference

    return WebReference(shop[1].events, START, END)


def close(actual, expected):
    """Rows equal, floats to 1e-9 (sums of durations are added in another order)."""
    assert len(actual) == len(expected), (actual[:3], expected[:3])
    for a, e in zip(actual, expected):
        assert len(a) == len(e), (a, e)
        for x, y in zip(a, e):
            if isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-9), (a, e)
            else:
                assert x == y, (a, e)


def test_web_data_is_browser_shaped(shop, web):
    """The generated data exercises every rule: sessions with and without ids, bounces, all sources."""
    assert len(web.sessions) > 3000
    assert {x.first["source"] for x in web.sessions} >= {"direct", "search", "social", "referral", "campaign"}
    assert sum(1 for e, _, sid, _ in web.web if not sid) > 500
    assert 0.1 < web.overview()[0][4] < 0.6  # bounce rate
    assert {x.first["country"] for x in web.sessions} >= {"DE", "FR", "GB", "US", "JP", "ES"}
    assert {x.first["device_type"] for x in web.sessions} == {"desktop", "mobile", "tablet"}


def test_web_overview(shop, web):
    close(run(shop[0], "web_overview"), web.overview())


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_web_traffic(shop, web, granularity):
    close(run(shop[0], "web_traffic", granularity=granularity), web.traffic(granularity))


def test_session_duration_distribution(shop, web):
    rows = run(shop[0], "session_duration")
    close(rows, web.session_duration())
    assert len(rows) >= 5 and sum(r[3] for r in rows) == pytest.approx(1)


def test_sessions_split_at_30_minutes_of_inactivity(chdb):
    """Pageviews without a session id: a gap of more than 30 minutes starts a new session, exactly 30
    minutes does not; a session id wins over the gap rule; a lone $pageleave is no session."""
    store = StoreSettings(dsn=chdb.dsn, database=unique("sessions"))
    client = chdb.client()
    t0 = utc(2026, 2, 10, 10)

    def pv(user, minutes, path, session="", name="$pageview"):
        return {
            "event_id": str(uuid.uuid4()),
            "event_name": name,
            "user_id": user,
            "session_id": session,
            "timestamp": (t0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
            "properties": {"$pathname": path, "$current_url": "https://shop.example" + path},
        }

    events = [
        pv("a", 0, "/"),
        pv("a", 10, "/p1"),
        pv("a", 40, "/p2"),  # 30 min exactly: same session
        pv("a", 70.5, "/p3"),
        pv("a", 75, "/p4"),  # 30.5 min: second session
        pv("a", 300, "/"),  # third: a bounce
        pv("b", 0, "/", "s-1"),
        pv("b", 200, "/x", "s-1"),  # one session by id despite the gap
        pv("c", 0, "/gone", name="$pageleave"),
    ]  # no pageview: no session
    load(client, store, events, dup_ratio=0.5)
    rows = Analytics(client, store.database).run("web_overview", start=t0, end=t0 + timedelta(days=1)).rows
    visitors, pageviews, sessions, bounces, bounce_rate, avg_duration, per_session = rows[0]
    assert (visitors, pageviews, sessions, bounces) == (2, 8, 4, 1)
    assert avg_duration == pytest.approx((40 * 60 + 4.5 * 60 + 0 + 200 * 60) / 4)
    entry = Analytics(client, store.database).run("entry_pages", start=t0, end=t0 + timedelta(days=1), limit=10).rows
    assert sorted((p, n) for p, n, *_ in entry) == [("/", 3), ("/p3", 1)]
    client.close()


@pytest.mark.parametrize("name", ["top_pages", "entry_pages", "exit_pages"])
def test_pages(shop, web, name):
    close(run(shop[0], name, limit=15), getattr(web, name)(15))


def test_top_referrers(shop, web):
    rows = run(shop[0], "top_referrers", limit=10)
    expected = web.top_referrers(10)
    assert [(r[0], r[2], r[3]) for r in rows] == [(e[0], e[2], e[3]) for e in expected]
    assert all(r[1] in e[1] for r, e in zip(rows, expected))


def test_traffic_sources(shop, web):
    close(run(shop[0], "traffic_sources"), web.traffic_sources())


@pytest.mark.parametrize("dimension", ["device_type", "browser", "os", "country"])
def test_web_breakdown(shop, web, dimension):
    close(run(shop[0], "web_breakdown", dimension=dimension), web.by(dimension))


def test_client_ip_is_not_stored(shop):
    """The demo sends `$ip` from the documentation ranges: the country is derived, the IP is gone."""
    analytics, _ = shop
    db = analytics.database
    leaked = analytics.client.query(
        f"SELECT count() FROM {db}.events WHERE client_ip != '' OR position(properties, '\"$ip\"') > 0 "
        "OR match(properties, '(192\\\\.0\\\\.2|198\\\\.51\\\\.100|203\\\\.0\\\\.113)\\\\.')"
    ).result_rows[0][0]
    countries = analytics.client.query(f"SELECT count() FROM {db}.events WHERE country != ''").result_rows[0][0]
    assert leaked == 0 and countries > 1000


def test_churn_features(shop):
    from tests.integration.analytics.web_reference import churn_features

    rows = run(shop[0], "churn_features")
    close(rows, churn_features(shop[1].events, START, END))
    assert sum(r[5] for r in rows) > 0 and sum(r[7] for r in rows) > 0 and {r[11] for r in rows} > {""}
