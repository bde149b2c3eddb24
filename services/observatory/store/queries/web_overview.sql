-- Web overview over [start, end): one row.
-- Columns: visitors, pageviews, sessions, bounces (UInt64), bounce_rate (Float64, bounces / sessions, 0
--          without sessions), avg_session_duration_s, pages_per_session (Float64)
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    uniqExact(cityHash64(user_id)) AS visitors,
    sum(views) AS pageviews,
    count() AS sessions,
    countIf(views = 1) AS bounces,
    if(sessions = 0, 0, bounces / sessions) AS bounce_rate,
    if(sessions = 0, 0, sum(duration_s) / sessions) AS avg_session_duration_s,
    if(sessions = 0, 0, pageviews / sessions) AS pages_per_session
FROM sessions
