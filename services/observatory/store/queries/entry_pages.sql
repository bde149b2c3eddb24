-- Entry pages: the top {limit} first pages of sessions (ties by path).
-- Columns: page_path String, sessions, bounces (UInt64), bounce_rate Float64
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    entry_page AS page_path,
    count() AS sessions,
    countIf(views = 1) AS bounces,
    bounces / sessions AS bounce_rate
FROM sessions
GROUP BY page_path
ORDER BY sessions DESC, page_path
LIMIT {limit:UInt32}
