"""Every analytics query returns exactly the numbers computed independently in Python from the same
generated events, although 20% of the events were inserted twice (redelivered batches, merges
stopped so the duplicates really sit on disk)."""

from __future__ import annotations

import pytest

from observatory.settings import StoreSettings
from observatory.store.analytics import Analytics, ParameterError, UnknownQuery, get_query, parse_params, queries
from tests.conftest import unique
from tests.integration.analytics.reference import Reference
from tests.integration.shopdata import load, utc, webshop_events

END = utc(2026, 3, 2)            # a Monday: history covers 5 weeks before it
START = utc(2026, 2, 9)          # range = the last 3 weeks, so first-seen/look-backs reach before it


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
    rows = analytics.client.query(sql, parameters={"granularity": "day", "start": "2026-02-09 00:00:00.000",
                                                   "end": "2026-03-02 00:00:00.000"}).result_rows
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
    assert sum(r for *_, r in rows) > 0   # history before the range makes returning users


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
    assert all(r[3] == r[2] for r in rows if r[1] == 0)   # week 0 = the whole cohort


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
    tested = {"dau", "active_users", "wau_mau", "new_vs_returning", "funnel", "revenue",
              "revenue_by_payment_method", "top_products_by_views", "top_products_by_revenue",
              "add_to_cart_rate", "refund_rate", "payment_failure_rate", "retention_cohorts", "event_counts",
              "kpi_summary", "top_exceptions"}  # top_exceptions: test_exception_query.py
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
    with pytest.raises(UnknownQuery):
        get_query("drop_table")
