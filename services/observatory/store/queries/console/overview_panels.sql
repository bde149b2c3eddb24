-- Every panel of the web overview from ONE pass over the sessions (include/sessions.sql, or the day
-- rollup: console/stored_sessions.sql) the filters keep (console/kept.sql), grouped by GROUPING SETS:
-- () totals, (bucket) the time series, one set per breakdown. `g` is grouping(bucket, entry_page,
-- exit_page, source, referrer, campaign, device, browser, os, country, page): a bit is 1 where that
-- key is NOT grouped, so a breakdown's rows have all bits but its own.
-- Pages (`page`, over the kept sessions' pageviews) come from the same pass: each session row is
-- repeated once per pageview plus once as itself (`i` = 0), and the session sets count only i = 0.
-- Over the day rollup, observatory.store.web drops the pages set from this text (without_pages: `page`
-- is '' and no row is repeated) and reads overview_pages.sql instead.
-- Columns: g UInt64, bucket DateTime, entry_page, exit_page, source, referrer, campaign, device,
--          browser, os, country, page (String), sessions, visitors, pageviews, bounces (UInt64),
--          duration_sum Float64 (sum of duration_s), page_pageviews, page_visitors (UInt64: the page set's)
WITH
-- @include sessions
,
-- @include kept
SELECT
    grouping(bucket, entry_page, exit_page, source, referrer, campaign, device, browser, os, country, page) AS g,
    toDateTime(dateTrunc({granularity:String}, started), 'UTC') AS bucket,
    entry_page, exit_page, source, referrer, campaign,
    seg[1] AS device, seg[2] AS browser, seg[3] AS os, seg[4] AS country,
    if(i = 0, '', page_views[i]) AS page,
    countIf(i = 0) AS sessions,
    uniqExactIf(cityHash64(user_id), i = 0) AS visitors,
    sumIf(views, i = 0) AS pageviews,
    countIf(i = 0 AND views = 1) AS bounces,
    sumIf(duration_s, i = 0) AS duration_sum,
    countIf(i > 0) AS page_pageviews,
    uniqExactIf(cityHash64(user_id), i > 0) AS page_visitors
FROM kept
ARRAY JOIN range(length(page_views) + 1) AS i
GROUP BY GROUPING SETS ((), (bucket), (entry_page), (exit_page), (source), (referrer), (campaign), (device), (browser),
                        (os), (country), (page))
