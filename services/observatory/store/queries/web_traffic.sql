-- Web traffic per bucket of {granularity}, by the session's start.
-- Columns: bucket DateTime('UTC'), visitors, sessions, pageviews, bounces (UInt64), bounce_rate,
--          avg_session_duration_s (Float64)
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    toDateTime(dateTrunc({granularity:String}, started), 'UTC') AS bucket,
    uniqExact(cityHash64(user_id)) AS visitors,
    count() AS sessions,
    sum(views) AS pageviews,
    countIf(views = 1) AS bounces,
    bounces / sessions AS bounce_rate,
    sum(duration_s) / sessions AS avg_session_duration_s
FROM sessions
GROUP BY bucket
ORDER BY bucket
