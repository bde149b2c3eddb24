-- Most viewed pages: the top {limit} paths by pageviews (ties by path).
-- Columns: page_path String, pageviews, visitors (UInt64)
SELECT
    page_path,
    count() AS pageviews,
    uniqExact(cityHash64(user_id)) AS visitors
FROM ${db}.events FINAL
WHERE event_name = '$$pageview' AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY page_path
ORDER BY pageviews DESC, page_path
LIMIT {limit:UInt32}
