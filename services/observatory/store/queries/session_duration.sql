-- Distribution of session duration: sessions per duration band (empty bands are absent).
-- Columns: band_order UInt8 (1..7), band String (0-10s, 10-30s, 30-60s, 1-3m, 3-10m, 10-30m, 30m+),
--          sessions UInt64, share Float64 (of all sessions)
-- Sessions (every web query): the pageview/pageleave events in [start, end), grouped by session_id
-- (the SDK's session id lands there), else per user split at gaps of more than 30 minutes between them;
-- a session counts when it has a pageview. Duration = last - first of its web events; bounce = one
-- pageview; entry/exit page = first/last pageview's path; source, referrer, device, browser, OS and
-- country = those of the first pageview. Sessions are cut at the range boundaries.
WITH
sessions AS
(
    SELECT
        any(user_id) AS user_id,
        min(timestamp) AS started,
        dateDiff('millisecond', min(timestamp), max(timestamp)) / 1000 AS duration_s,
        countIf(event_name = '$$pageview') AS views
    FROM ${db}.events FINAL
    WHERE event_name IN ('$$pageview', '$$pageleave') AND session_id != ''
      AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
    GROUP BY session_id
    HAVING views > 0
    UNION ALL
    SELECT
        user_id,
        s[1].1 AS started,
        dateDiff('millisecond', s[1].1, s[-1].1) / 1000 AS duration_s,
        arrayCount(e -> e.2, s) AS views
    FROM
    (
        SELECT user_id, arraySort(groupArray((timestamp, event_name = '$$pageview'))) AS evs
        FROM ${db}.events FINAL
        WHERE event_name IN ('$$pageview', '$$pageleave') AND session_id = ''
          AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
        GROUP BY user_id
    )
    ARRAY JOIN arraySplit((e, i) -> i = 1 OR dateDiff('millisecond', evs[i - 1].1, e.1) > 1800000,
                          evs, arrayEnumerate(evs)) AS s
    WHERE views > 0
)
SELECT
    multiIf(duration_s < 10, 1, duration_s < 30, 2, duration_s < 60, 3, duration_s < 180, 4,
            duration_s < 600, 5, duration_s < 1800, 6, 7) AS band_order,
    ['0-10s', '10-30s', '30-60s', '1-3m', '3-10m', '10-30m', '30m+'][band_order] AS band,
    count() AS sessions,
    sessions / (SELECT count() FROM sessions) AS share
FROM sessions
GROUP BY band_order
ORDER BY band_order
