-- Top {limit} referring hosts of sessions (the first pageview's referrer; direct and internal visits
-- excluded; ties by host).
-- Columns: referrer_host String, source String (search | social | referral | campaign), sessions,
--          visitors (UInt64)
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
        countIf(event_name = '$$pageview') AS views,
        argMinIf(acquisition_source, (timestamp, page_path), event_name = '$$pageview') AS source,
        argMinIf(referrer_host, (timestamp, page_path), event_name = '$$pageview') AS referrer
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
        arrayCount(e -> e.2, s) AS views,
        arrayFirst(e -> e.2, s).4 AS source,
        arrayFirst(e -> e.2, s).5 AS referrer
    FROM
    (
        SELECT user_id, arraySort(groupArray((timestamp, event_name = '$$pageview', page_path, acquisition_source, referrer_host))) AS evs
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
    referrer AS referrer_host,
    any(s.source) AS source,
    count() AS sessions,
    uniqExact(cityHash64(user_id)) AS visitors
FROM sessions AS s
WHERE s.referrer != '' AND s.source NOT IN ('direct', 'internal')
GROUP BY referrer_host
ORDER BY sessions DESC, referrer_host
LIMIT {limit:UInt32}
