-- Writes business_products for the UTC days {days:Array(Date)} under {versions:Array(UInt64)} (as
-- business_insert_users.sql): the items of purchase_completed per (day, product), as
-- top_products_by_revenue.sql reads them (quantity x round(price * 100) in cents; orders = distinct
-- purchases holding the product).
INSERT INTO ${db}.business_products (day, version, product_id, revenue_cents, n_units, n_orders)
SELECT
    toDate(timestamp) AS d,
    transform(d, {days:Array(Date)}, {versions:Array(UInt64)}, toUInt64(0)),
    JSONExtractString(item, 'product_id') AS product_id,
    sum(JSONExtractUInt(item, 'quantity') * toInt64(round(JSONExtractFloat(item, 'price') * 100))),
    sum(JSONExtractUInt(item, 'quantity')),
    uniqExact(event_id)
FROM ${db}.events FINAL
ARRAY JOIN JSONExtractArrayRaw(properties, 'items') AS item
WHERE event_name = 'purchase_completed'
  AND timestamp >= toDateTime64(arrayMin({days:Array(Date)}), 3, 'UTC')
  AND timestamp < toDateTime64(arrayMax({days:Array(Date)}) + 1, 3, 'UTC')
  AND toDate(timestamp) IN {days:Array(Date)}
GROUP BY d, product_id
