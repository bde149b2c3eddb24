-- Top {limit} referring hosts of sessions (the first pageview's referrer; direct and internal visits
-- excluded; ties by host).
-- Columns: referrer_host String, source String (search | social | referral | campaign), sessions,
--          visitors (UInt64)
-- Sessions (every web query): the pageview/pageleave events in [start, end), grouped by session_id
-- (the SDK's session id lands there), else per user split at more than 30 minutes without a pageview;
-- a session counts when it has a pageview. Duration = last - first of its web events; bounce = one
-- pageview; entry/exit page = first/last pageview's path; source, referrer, device, browser, OS and
-- country = those of the first pageview. Sessions are cut at the range boundaries.
WITH
web AS
(
    SELECT user_id, session_id, timestamp, event_name, page_path, referrer_host, acquisition_source, device_type,
           browser, os, country,
           toUInt8(dateDiff('millisecond', lagInFrame(timestamp, 1, toDateTime64(0, 3, 'UTC')) OVER w, timestamp)
                   > 1800000) AS new_session
    FROM ${db}.events FINAL
    WHERE event_name IN ('$$pageview', '$$pageleave')
      AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
    WINDOW w AS (PARTITION BY user_id, session_id ORDER BY timestamp ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
),
keyed AS
(
    SELECT *, if(session_id != '', session_id,
                 concat(user_id, '#', toString(sum(new_session) OVER (PARTITION BY user_id, session_id ORDER BY timestamp
                                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)))) AS session
    FROM web
),
sessions AS
(
    SELECT
        session,
        any(user_id) AS user_id,
        min(timestamp) AS started,
        dateDiff('millisecond', min(timestamp), max(timestamp)) / 1000 AS duration_s,
        countIf(event_name = '$$pageview') AS views,
        argMinIf(page_path, (timestamp, page_path), event_name = '$$pageview') AS entry_page,
        argMaxIf(page_path, (timestamp, page_path), event_name = '$$pageview') AS exit_page,
        argMinIf(acquisition_source, (timestamp, page_path), event_name = '$$pageview') AS source,
        argMinIf(referrer_host, (timestamp, page_path), event_name = '$$pageview') AS referrer,
        argMinIf(device_type, (timestamp, page_path), event_name = '$$pageview') AS device_type,
        argMinIf(browser, (timestamp, page_path), event_name = '$$pageview') AS browser,
        argMinIf(os, (timestamp, page_path), event_name = '$$pageview') AS os,
        argMinIf(country, (timestamp, page_path), event_name = '$$pageview') AS country
    FROM keyed
    GROUP BY session
    HAVING views > 0
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
