-- The {limit} most viewed products over [start, end) (ties by product_id).
-- Columns: product_id String, views UInt64, viewers UInt64 (distinct users)
SELECT
    JSONExtractString(properties, 'product_id') AS product_id,
    count() AS views,
    uniqExact(cityHash64(user_id)) AS viewers
FROM ${db}.events FINAL
WHERE event_name = 'product_viewed'
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY product_id
ORDER BY views DESC, product_id ASC
LIMIT {limit:UInt32}
