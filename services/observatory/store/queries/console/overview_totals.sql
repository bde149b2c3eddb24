-- The web overview's totals over [start, end) with the same filters (console/kept.sql), for the
-- previous period (ClickHouse computes only the session columns this reads).
-- Columns: visitors, pageviews, sessions, bounces (UInt64), duration_sum Float64 (sum of duration_s)
WITH
-- @include sessions
,
-- @include kept
SELECT
    uniqExact(cityHash64(user_id)) AS visitors,
    sum(views) AS pageviews,
    count() AS sessions,
    countIf(views = 1) AS bounces,
    sum(duration_s) AS duration_sum
FROM kept
