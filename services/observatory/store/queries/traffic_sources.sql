-- Acquisition sources of sessions (the first pageview's: campaign = any utm_* tag, search / social by
-- the referrer's host, referral, direct, internal), largest first.
-- Columns: source String, sessions, visitors, bounces (UInt64), bounce_rate Float64
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    source,
    count() AS sessions,
    uniqExact(cityHash64(user_id)) AS visitors,
    countIf(views = 1) AS bounces,
    bounces / sessions AS bounce_rate
FROM sessions
GROUP BY source
ORDER BY sessions DESC, source
