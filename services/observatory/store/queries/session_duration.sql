-- Distribution of session duration: sessions per duration band (empty bands are absent).
-- Columns: band_order UInt8 (1..7), band String (0-10s, 10-30s, 30-60s, 1-3m, 3-10m, 10-30m, 30m+),
--          sessions UInt64, share Float64 (of all sessions)
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    multiIf(duration_s < 10, 1, duration_s < 30, 2, duration_s < 60, 3, duration_s < 180, 4,
            duration_s < 600, 5, duration_s < 1800, 6, 7) AS band_order,
    ['0-10s', '10-30s', '30-60s', '1-3m', '3-10m', '10-30m', '30m+'][band_order] AS band,
    count() AS sessions,
    sessions / (SELECT count() FROM sessions) AS share
FROM sessions
GROUP BY band_order
ORDER BY band_order
