-- Sessions by {dimension}: device_type | browser | os | country (of the session's first pageview;
-- '' = unknown), largest first.
-- Columns: value String, sessions, visitors, pageviews, bounces (UInt64), bounce_rate Float64
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
        argMinIf(multiIf({dimension:String} = 'device_type', device_type, {dimension:String} = 'browser', browser, {dimension:String} = 'os', os, country), (timestamp, page_path), event_name = '$$pageview') AS value
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
        arrayFirst(e -> e.2, s).4 AS value
    FROM
    (
        SELECT user_id, arraySort(groupArray((timestamp, event_name = '$$pageview', page_path, multiIf({dimension:String} = 'device_type', device_type, {dimension:String} = 'browser', browser, {dimension:String} = 'os', os, country)))) AS evs
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
    value,
    count() AS sessions,
    uniqExact(cityHash64(user_id)) AS visitors,
    sum(views) AS pageviews,
    countIf(views = 1) AS bounces,
    bounces / sessions AS bounce_rate
FROM sessions
GROUP BY value
ORDER BY sessions DESC, value
