-- Sessions by {dimension}: device_type | browser | os | country (of the session's first pageview;
-- '' = unknown; `segment` holds all four, the parameter picks one), largest first.
-- Columns: value String, sessions, visitors, pageviews, bounces (UInt64), bounce_rate Float64
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    splitByChar('\0', segment)[indexOf(['device_type', 'browser', 'os', 'country'], {dimension:String})] AS value,
    count() AS sessions,
    uniqExact(cityHash64(user_id)) AS visitors,
    sum(views) AS pageviews,
    countIf(views = 1) AS bounces,
    bounces / sessions AS bounce_rate
FROM sessions
GROUP BY value
ORDER BY sessions DESC, value
