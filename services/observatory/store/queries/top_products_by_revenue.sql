-- The {limit} products with the most revenue over [start, end), from the items of purchase_completed
-- (quantity x price per line, in integer cents). orders = purchases holding the product.
-- Columns: product_id String, revenue Float64, units UInt64, orders UInt64
SELECT
    JSONExtractString(item, 'product_id') AS product_id,
    sum(JSONExtractUInt(item, 'quantity') * toInt64(round(JSONExtractFloat(item, 'price') * 100))) / 100 AS revenue,
    sum(JSONExtractUInt(item, 'quantity')) AS units,
    uniqExact(event_id) AS orders
FROM ${db}.events FINAL
ARRAY JOIN JSONExtractArrayRaw(properties, 'items') AS item
WHERE event_name = 'purchase_completed'
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY product_id
ORDER BY revenue DESC, product_id ASC
LIMIT {limit:UInt32}
