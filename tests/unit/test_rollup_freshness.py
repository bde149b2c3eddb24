"""store.rollup.stale_days: which days a day rollup computes, and under which version. A day is fresh
only while both its events' newest inserted_at and their row count equal what its newest computation
saw; a new version is unique and increasing per day."""

from __future__ import annotations

from datetime import date

from observatory.store.rollup import StaleDay, stale_days

D1, D2, D3, D4, D5 = (date(2026, 3, d) for d in range(1, 6))


def test_fresh_only_while_newest_stamp_and_row_count_both_match():
    rows = [
        # day, newest now, rows now, stored version, newest seen, rows seen
        (D1, 1000, 10, 1000, 1000, 10),  # nothing changed: fresh
        (D2, 1000, 11, 1000, 1000, 10),  # a row committed late with an older stamp: same newest, one more row
        (D3, 2000, 11, 1000, 1000, 10),  # a newer event
        (D4, 500, 3, 0, 0, 0),  # never computed
        (D5, 1000, 10, 1000, 0, 0),  # computed before migration 0008: recomputed once
    ]
    assert stale_days(rows) == [
        StaleDay(D2, 1001, 1000, 11, 1000),  # same newest stamp: the previous version + 1
        StaleDay(D3, 2000, 2000, 11, 1000),
        StaleDay(D4, 500, 500, 3, 0),
        StaleDay(D5, 1001, 1000, 10, 1000),
    ]


def test_a_merge_that_collapses_duplicates_recomputes_once_under_a_new_version():
    assert stale_days([(D1, 1000, 8, 1001, 1000, 10)]) == [StaleDay(D1, 1002, 1000, 8, 1001)]


def test_a_stamp_older_than_the_stored_version_still_gets_a_newer_version():
    # the newest stamp went down: a merge kept a replacement committed late with an older stamp
    assert stale_days([(D1, 900, 12, 1000, 1000, 10)]) == [StaleDay(D1, 1001, 900, 12, 1000)]
