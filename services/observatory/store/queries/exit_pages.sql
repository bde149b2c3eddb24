-- Exit pages: the top {limit} last pages of sessions (ties by path).
-- Columns: page_path String, sessions UInt64, exit_rate Float64 (sessions ending there / all sessions)
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    exit_page AS page_path,
    count() AS sessions,
    sessions / (SELECT count() FROM sessions) AS exit_rate
FROM sessions
GROUP BY page_path
ORDER BY sessions DESC, page_path
LIMIT {limit:UInt32}
