-- The `sessions` CTE of every web query (web_overview, web_traffic, session_duration, entry_pages,
-- exit_pages, traffic_sources, top_referrers, web_breakdown). A query reads it with the line
-- `-- @include sessions` inside its WITH clause; `observatory.store.analytics` puts the SQL below
-- there (this comment left out) when it loads the queries (see ../README.md).
--
-- Sessions: the $pageview/$pageleave events in [start, end), grouped by session_id (the SDK's
-- session id lands there), else per user split at gaps of more than 30 minutes between them
-- (exactly 30 minutes stays one session); a session counts when it has a pageview. Sessions are cut
-- at the range boundaries. Reads `events FINAL` (a redelivered event counts once).
--
-- Columns, one row per session:
--   user_id String
--   started DateTime64(3)      its first web event
--   duration_s Float64         last - first of its web events, in seconds
--   views UInt64               its pageviews (a bounce: views = 1)
--   entry_page, exit_page      page_path of the first / last pageview (by time, then path)
--   source, referrer           acquisition_source, referrer_host of the first pageview
--   segment                    (device_type, browser, os, country) of the first pageview
-- Cost: ClickHouse drops what a query does not select (the aggregates of the first branch, the
-- arrays of the second), so one definition serves every query at the price of a query's own copy.
sessions AS
(
    -- visits with a session id
    SELECT
        any(user_id) AS user_id,
        min(timestamp) AS started,
        dateDiff('millisecond', min(timestamp), max(timestamp)) / 1000 AS duration_s,
        countIf(event_name = '$$pageview') AS views,
        argMinIf(page_path, (timestamp, page_path), event_name = '$$pageview') AS entry_page,
        argMaxIf(page_path, (timestamp, page_path), event_name = '$$pageview') AS exit_page,
        argMinIf(acquisition_source, (timestamp, page_path), event_name = '$$pageview') AS source,
        argMinIf(referrer_host, (timestamp, page_path), event_name = '$$pageview') AS referrer,
        argMinIf((device_type, browser, os, country), (timestamp, page_path), event_name = '$$pageview') AS segment
    FROM ${db}.events FINAL
    WHERE event_name IN ('$$pageview', '$$pageleave') AND session_id != ''
      AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
    GROUP BY session_id
    HAVING views > 0
    UNION ALL
    -- visits without one: each user's web events as parallel arrays (i indexes them), the indexes in
    -- time order split where more than 30 minutes pass; s = one visit's indexes
    WITH
        arrayFilter(i -> is_view[i], s) AS view_indexes,
        arrayMin(i -> (ts[i], paths[i], i), view_indexes).3 AS first_view,
        arrayMax(i -> (ts[i], paths[i], i), view_indexes).3 AS last_view
    SELECT
        user_id,
        ts[s[1]] AS started,
        dateDiff('millisecond', ts[s[1]], ts[s[-1]]) / 1000 AS duration_s,
        length(view_indexes) AS views,
        paths[first_view] AS entry_page,
        paths[last_view] AS exit_page,
        sources[first_view] AS source,
        referrers[first_view] AS referrer,
        segments[first_view] AS segment
    FROM
    (
        SELECT
            user_id,
            groupArray(timestamp) AS ts,
            groupArray(event_name = '$$pageview') AS is_view,
            groupArray(page_path) AS paths,
            groupArray(acquisition_source) AS sources,
            groupArray(referrer_host) AS referrers,
            groupArray((device_type, browser, os, country)) AS segments,
            arraySort((i, t) -> t, arrayEnumerate(ts), ts) AS by_time
        FROM ${db}.events FINAL
        WHERE event_name IN ('$$pageview', '$$pageleave') AND session_id = ''
          AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
        GROUP BY user_id
    )
    ARRAY JOIN arraySplit((i, j) -> j = 1 OR dateDiff('millisecond', ts[by_time[j - 1]], ts[i]) > 1800000,
                          by_time, arrayEnumerate(by_time)) AS s
    WHERE views > 0
)
