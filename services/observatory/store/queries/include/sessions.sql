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
--   entry_page, exit_page      page_path of the first / last pageview (by time; at the same
--                              millisecond by path with a session id, by event_id without)
--   source, referrer           acquisition_source, referrer_host of the first pageview
--   segment String             device_type, browser, os and country of the first pageview joined by
--                              '\0' (no enriched value holds one): `splitByChar('\0', segment)` gives
--                              the four (a tuple instead makes argMinIf about 30% slower)
--   campaign String            utm_campaign property of the first pageview ('' unless its source is campaign)
--   site String                ingest key name (events.source) of the first pageview
--   (the web console's queries add page_views Array(String), the path of each pageview, by rewriting
--   this text: observatory.store.web.console_sessions; it costs the other queries nothing that way)
-- Cost: ClickHouse drops what a query does not select (the aggregates of the first branch, the
-- attribute arrays of the second), so one definition serves every query at about the price of a
-- query's own copy (measured: store/queries/README.md).
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
        argMinIf(concat(device_type, '\0', browser, '\0', os, '\0', country), (timestamp, page_path), event_name = '$$pageview') AS segment,
        argMinIf(if(acquisition_source = 'campaign', JSONExtractString(properties, 'utm_campaign'), ''), (timestamp, page_path), event_name = '$$pageview') AS campaign,
        argMinIf(events.source, (timestamp, page_path), event_name = '$$pageview') AS site
    FROM ${db}.events FINAL
    WHERE event_name IN ('$$pageview', '$$pageleave') AND session_id != ''
      AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
    GROUP BY session_id
    HAVING views > 0
    UNION ALL
    -- visits without one: each user's web events as (timestamp, is_pageview, event_id, i) in time
    -- order, i indexing the arrays of their attributes; split where more than 30 minutes pass (s = one
    -- visit). No lambda captures an array (ClickHouse would copy it per element: quadratic per user).
    WITH
        arrayFirst(e -> e.2, s).4 AS first_view,
        arrayLast(e -> e.2, s).4 AS last_view
    SELECT
        user_id,
        s[1].1 AS started,
        dateDiff('millisecond', s[1].1, s[-1].1) / 1000 AS duration_s,
        arrayCount(e -> e.2, s) AS views,
        paths[first_view] AS entry_page,
        paths[last_view] AS exit_page,
        sources[first_view] AS source,
        referrers[first_view] AS referrer,
        segments[first_view] AS segment,
        campaigns[first_view] AS campaign,
        sites[first_view] AS site
    FROM
    (
        SELECT
            user_id,
            groupArray(timestamp) AS ts,
            arraySort(arrayZip(ts, groupArray(event_name = '$$pageview'), groupArray(event_id), arrayEnumerate(ts))) AS events,
            groupArray(page_path) AS paths,
            groupArray(acquisition_source) AS sources,
            groupArray(referrer_host) AS referrers,
            groupArray(concat(device_type, '\0', browser, '\0', os, '\0', country)) AS segments,
            groupArray(if(acquisition_source = 'campaign', JSONExtractString(properties, 'utm_campaign'), '')) AS campaigns,
            groupArray(source) AS sites
        FROM ${db}.events FINAL
        WHERE event_name IN ('$$pageview', '$$pageleave') AND session_id = ''
          AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
        GROUP BY user_id
    )
    ARRAY JOIN arraySplit((e, gap_ms) -> gap_ms > 1800000, events,
                          arrayDifference(arrayMap(e -> toUnixTimestamp64Milli(e.1), events))) AS s
    WHERE views > 0
)
