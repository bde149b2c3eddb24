-- The web overview's pages panel over the day rollup: pageviews and visitors per path over the
-- pageviews of the sessions the filters keep (overview_panels.sql computes the same in its one pass when
-- the sessions come from the events; over the stored rollup a second read is cheaper than the
-- pages set in the same GROUPING SETS). The top {limit} by pageviews, ties by path.
-- Columns: page String, pageviews, visitors (UInt64)
WITH
-- @include sessions
,
-- @include kept
SELECT page, count() AS pageviews, uniqExact(cityHash64(user_id)) AS visitors
FROM kept
ARRAY JOIN page_views AS page
GROUP BY page
ORDER BY pageviews DESC, page
LIMIT {limit:UInt32}
