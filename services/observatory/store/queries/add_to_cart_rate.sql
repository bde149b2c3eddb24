-- Add-to-cart rate per product over [start, end): add_to_cart events / product_viewed events
-- (NULL when the product was not viewed in the range). Most viewed first.
-- Columns: product_id String, views UInt64, adds UInt64, add_to_cart_rate Nullable(Float64)
SELECT
    JSONExtractString(properties, 'product_id') AS product_id,
    countIf(event_name = 'product_viewed') AS views,
    countIf(event_name = 'add_to_cart') AS adds,
    adds / nullIf(views, 0) AS add_to_cart_rate
FROM ${db}.events FINAL
WHERE event_name IN ('product_viewed', 'add_to_cart')
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY product_id
ORDER BY views DESC, product_id ASC
