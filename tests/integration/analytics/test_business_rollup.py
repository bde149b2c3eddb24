"""The business page's day rollup (observatory.store.business, migration 0007) answers exactly what
the raw queries (store/queries/*.sql over `events FINAL`, the oracle: not the code under test) answer,
on generated webshop events with redelivered duplicates (merges stopped: they really sit on disk) and
replaced rows (the same event_id, name and day with another user, time and amount: FINAL keeps the
newest), and keeps doing so after a late event, a redelivery and a replacement arrive."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import timedelta

import pytest

from observatory.consumer.decode import to_row
from observatory.settings import StoreSettings
from observatory.store.analytics import Analytics
from observatory.store.business import SERVED, BusinessRollup
from observatory.store.sink import ClickHouseSink
from tests.conftest import unique
from tests.integration.late_commit import insert_late
from tests.integration.shopdata import load, utc, webshop_events

END = utc(2026, 3, 2)  # a Monday; 35 days of history before it
RANGES = [  # whole UTC days: what the rollup serves
    (utc(2026, 2, 9), END),
    (utc(2026, 1, 26), utc(2026, 2, 9)),  # the previous period of a 14-day range
    (utc(2026, 3, 1), END),  # the console's wau_mau range (the last day)
    (utc(2026, 2, 11), utc(2026, 2, 20)),  # not starting on a Monday
]
CALLS = [
    ("kpi_summary", {}),
    ("wau_mau", {}),
    ("revenue", {"granularity": "day"}),
    ("revenue", {"granularity": "week"}),
    ("revenue", {"granularity": "month"}),
    ("top_products_by_revenue", {"limit": 1000}),  # every product
    ("retention_cohorts", {}),
    ("active_users", {"granularity": "day"}),  # the forecasts' dau history
    ("active_users", {"granularity": "week"}),
    ("active_users", {"granularity": "month"}),
]


def _replaced(events: list[dict], n: int, seed: int = 3) -> list[dict]:
    """New versions of `n` events (purchases first): another user, another time the same day and, for
    a purchase, another amount and items. Same event_id, name and day: the same ReplacingMergeTree key."""
    rng = random.Random(seed)
    purchases = [e for e in events if e["event_name"] == "purchase_completed"]
    others = [e for e in events if e["event_name"] != "purchase_completed"]
    out = []
    for e in rng.sample(purchases, n // 2) + rng.sample(others, n - n // 2):
        r = copy.deepcopy(e)
        r["user_id"] = f"replaced-{rng.randrange(10**6)}"
        t = r["timestamp"]
        r["timestamp"] = t[:11] + ("00:00:01.000Z" if t[11:13] != "00" else "23:59:58.000Z")
        if r["event_name"] == "purchase_completed":
            r["properties"]["total_value"] = 1234.56
            r["properties"]["items"] = [{"product_id": "p-replaced", "quantity": 2, "price": 617.28}]
        out.append(r)
    return out


def _event(name: str, user: str, at, **props) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": name,
        "user_id": user,
        "session_id": "",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "properties": props,
    }


@pytest.fixture(scope="module")
def shop(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("business"))
    client = chdb.client()
    loaded = load(client, store, webshop_events(35, END, seed=17, base_sessions=100), dup_ratio=0.2)
    replaced = _replaced(loaded.events, 40)
    ClickHouseSink(client, store.database).insert([to_row(e) for e in replaced])
    # users who stop at the funnel's first step (signed up, nothing else)
    only = [_event("user_signup", f"signup-only-{i}", utc(2026, 2, 12, 8 + i)) for i in range(3)]
    ClickHouseSink(client, store.database).insert([to_row(e) for e in only])
    yield Analytics(client, store.database), loaded, replaced
    client.close()


def _all_equal(rollup: BusinessRollup, analytics: Analytics) -> dict:
    answers = {}
    for start, end in RANGES:
        for name, extra in CALLS:
            params = {"start": start, "end": end, **extra}
            assert rollup.serves(name, params)
            got = rollup.answer(name, **params)
            want = analytics.run(name, **params)
            assert got.columns == want.columns, name
            assert got.rows == want.rows, (name, start, end, extra)
            assert got.json() == want.json()
            answers[(name, start, end, tuple(extra.items()))] = got.rows
    return answers


def test_the_data_has_duplicates_and_replaced_rows(shop):
    analytics, loaded, replaced = shop
    db, client = analytics.database, analytics.client
    raw = client.query(f"SELECT count() FROM {db}.events").result_rows[0][0]
    final = client.query(f"SELECT count() FROM {db}.events FINAL").result_rows[0][0]
    assert loaded.duplicates > 500 and raw == len(loaded.events) + loaded.duplicates + len(replaced) + 3
    assert final == len(loaded.events) + 3
    kept = client.query(f"SELECT countIf(startsWith(user_id, 'replaced-')) FROM {db}.events FINAL").result_rows[0][0]
    assert kept == len(replaced)  # FINAL keeps the replacement (the newest row)


def test_rollup_equals_the_raw_final_queries(shop):
    analytics, _, _ = shop
    rollup = BusinessRollup(analytics)
    answers = _all_equal(rollup, analytics)
    db = analytics.database
    days = analytics.client.query(f"SELECT count() FROM {db}.business_days").result_rows[0][0]
    assert days == 35  # every day of history was computed (retention reads back to the first day)
    assert answers[("kpi_summary", RANGES[0][0], END, ())][0][0] > 100  # active users: real figures
    assert rollup.refresh(utc(2026, 1, 1).date(), END.date()) == 0  # nothing changed: nothing recomputed


def test_rollup_follows_late_duplicate_and_replacing_events(shop):
    analytics, loaded, _ = shop
    rollup = BusinessRollup(analytics)
    before = _all_equal(rollup, analytics)
    sink = ClickHouseSink(analytics.client, analytics.database)
    day = utc(2026, 2, 10)
    late = [
        _event("user_signup", "late-user", day + timedelta(hours=23)),
        _event(
            "purchase_completed",
            "late-user",
            day + timedelta(hours=23, minutes=5),
            total_value=99.99,
            items=[{"product_id": "p-late", "quantity": 1, "price": 99.99}],
        ),
    ]
    sink.insert([to_row(e) for e in late])
    assert rollup.refresh(utc(2026, 1, 1).date(), END.date()) == 1  # the one day with new events
    after = _all_equal(rollup, analytics)
    key = ("kpi_summary", RANGES[0][0], END, ())
    assert after[key][0][0] == before[key][0][0] + 1  # the late user is active
    assert after[key][0][2] == before[key][0][2] + 1  # and ordered once
    top = {r[0]: r[1] for r in after[("top_products_by_revenue", RANGES[0][0], END, (("limit", 1000),))]}
    assert top["p-late"] == 99.99

    # a redelivery of a purchase (an exact duplicate) and a replacement of another: recomputed, still exact
    purchase = next(
        e for e in loaded.events if e["event_name"] == "purchase_completed" and e["timestamp"] > "2026-02-15"
    )
    other = copy.deepcopy(
        next(e for e in loaded.events if e["event_name"] == "purchase_completed" and e is not purchase)
    )
    other["user_id"], other["properties"]["total_value"] = "late-user", 5.0
    sink.insert([to_row(purchase)])
    sink.insert([to_row(other)])
    assert rollup.refresh(utc(2026, 1, 1).date(), END.date()) >= 1
    again = _all_equal(rollup, analytics)
    assert again[key][0][2] == after[key][0][2]  # the redelivered purchase counts once
    stale = analytics.client.query(
        f"SELECT count() FROM {analytics.database}.business_users "
        f"WHERE (day, version) NOT IN (SELECT day, max(version) FROM {analytics.database}.business_days GROUP BY day)"
    ).result_rows[0][0]
    assert stale == 0  # older versions' rows are deleted


def test_rollup_counts_events_committed_late_with_an_older_stamp(shop):
    """Events of a computed day inserted with an inserted_at older than the day's newest (a consumer's
    batch committing late: two consumers, or skewed clocks) leave its newest stamp as it was: the day
    is still recomputed (its row count changed), twice under the same newest stamp, with one copy of
    its rows each time."""
    analytics, _, _ = shop
    db, client = analytics.database, analytics.client
    rollup = BusinessRollup(analytics)
    before = _all_equal(rollup, analytics)
    day = utc(2026, 2, 17)

    def version() -> int:
        return client.query(f"SELECT max(version) FROM {db}.business_days WHERE day = '2026-02-17'").result_rows[0][0]

    first = version()
    newest = f"SELECT max(inserted_at) FROM {db}.events WHERE toDate(timestamp) = '2026-02-17'"
    stamped = client.query(newest).result_rows[0][0] - timedelta(seconds=1)
    items = [{"product_id": "p-late-commit", "quantity": 3, "price": 10.01}]
    late = [
        _event("user_signup", "late-commit-user", day + timedelta(hours=9)),
        _event(
            "purchase_completed",
            "late-commit-user",
            day + timedelta(hours=9, minutes=5),
            total_value=30.03,
            items=items,
        ),
    ]
    insert_late(client, db, late, stamped)
    assert client.query(newest).result_rows[0][0] == stamped + timedelta(seconds=1)  # the newest stamp did not move
    after = _all_equal(rollup, analytics)  # the rollup's answers equal the raw FINAL queries'
    key = ("kpi_summary", RANGES[0][0], END, ())
    assert after[key][0][0] == before[key][0][0] + 1  # the late-committed user is active
    assert after[key][0][2] == before[key][0][2] + 1  # and ordered once
    top = {r[0]: r[1] for r in after[("top_products_by_revenue", RANGES[0][0], END, (("limit", 1000),))]}
    assert top["p-late-commit"] == 30.03
    second = version()

    again = _event("purchase_completed", "late-commit-user", day + timedelta(hours=10), total_value=30.03, items=items)
    insert_late(client, db, [again], stamped)
    third = _all_equal(rollup, analytics)
    assert third[key][0][2] == before[key][0][2] + 2
    users = client.query(
        f"SELECT count(), uniqExact(version) FROM {db}.business_users WHERE day = '2026-02-17'"
    ).result_rows[0]
    active = client.query(f"SELECT uniqExact(user_id) FROM {db}.events FINAL WHERE toDate(timestamp) = '2026-02-17'")
    assert users == (active.result_rows[0][0], 1)  # one copy: one row per active user, one version
    assert version() > second > first  # each computation under a new version, though the newest stamp stayed


def test_other_ranges_and_queries_run_the_raw_sql(shop):
    analytics, _, _ = shop
    rollup = BusinessRollup(analytics)
    noon = utc(2026, 2, 9, 12)
    assert not rollup.serves("kpi_summary", {"start": noon, "end": END})
    assert not rollup.serves("revenue", {"start": utc(2026, 2, 9), "end": END, "granularity": "hour"})
    assert not rollup.serves("funnel", {"start": utc(2026, 2, 9), "end": END})
    assert set(SERVED) == {name for name, _ in CALLS}
    assert (
        rollup.answer("kpi_summary", start=noon, end=END).rows == analytics.run("kpi_summary", start=noon, end=END).rows
    )


@pytest.mark.parametrize(
    "steps",
    [
        ["user_signup", "product_viewed", "add_to_cart", "checkout_started", "purchase_completed"],
        ["user_signup", "purchase_completed"],
        ["product_viewed", "add_to_cart", "purchase_completed"],
        ["never_sent", "add_to_cart"],
        ["never_sent", "never_sent_either"],
    ],
)
def test_funnel_plans_equal_the_raw_funnel(shop, steps):
    """Either plan of the funnel (only the first step's users when that step is rare) answers what
    funnel.sql answers, on data with duplicates and replaced rows; nobody at the first step: every step
    with 0 users while some step event is in the range, no rows when none is."""
    analytics, _, _ = shop
    rollup = BusinessRollup(analytics)
    for start, end in RANGES + [(utc(2026, 2, 9, 13), utc(2026, 2, 12, 7))]:
        for window in (600, 86400):
            params = {"start": start, "end": end, "window_seconds": window, "steps": steps}
            got, want = rollup.answer("funnel", **params), analytics.run("funnel", **params)
            assert got.rows == want.rows and got.columns == want.columns, (steps, start, end, window)
    share = rollup.first_step_share({"start": utc(2026, 2, 9), "end": END, "steps": steps})
    if len(steps) == 5:  # the default funnel: signups are few of its events
        assert share <= 0.25  # the first-step plan ran
        assert got.rows[0][2] > 0
    if steps[0] == "product_viewed":
        assert share > 0.25
    if steps == ["never_sent", "add_to_cart"]:
        assert [r[2] for r in got.rows] == [0, 0]
    if steps == ["never_sent", "never_sent_either"]:
        assert got.rows == []
