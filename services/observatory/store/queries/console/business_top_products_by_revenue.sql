-- top_products_by_revenue.sql over business_products (the days [first, until), each day's newest
-- version): the same columns and order.
SELECT
    product_id,
    sum(revenue_cents) / 100 AS revenue,
    sum(n_units) AS units,
    sum(n_orders) AS orders
FROM ${db}.business_products
WHERE day >= {first:Date} AND day < {until:Date}
  AND (day, version) IN
      (
          SELECT day, max(version)
          FROM ${db}.business_days
          WHERE day >= {first:Date} AND day < {until:Date}
          GROUP BY day
      )
GROUP BY product_id
ORDER BY revenue DESC, product_id ASC
LIMIT {limit:UInt32}
