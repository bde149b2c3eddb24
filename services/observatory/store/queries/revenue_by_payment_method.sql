-- Revenue and orders by payment method over [start, end), with each method's share of revenue.
-- Columns: payment_method String, cents Int64 (revenue in cents), revenue Float64, orders UInt64,
--          average_order_value Float64, revenue_share Float64
SELECT
    JSONExtractString(properties, 'payment_method') AS payment_method,
    sum(toInt64(round(JSONExtractFloat(properties, 'total_value') * 100))) AS cents,
    cents / 100 AS revenue,
    count() AS orders,
    if(orders = 0, 0, revenue / orders) AS average_order_value,
    if(sum(cents) OVER () = 0, 0, cents / sum(cents) OVER ()) AS revenue_share
FROM ${db}.events FINAL
WHERE event_name = 'purchase_completed'
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY payment_method
ORDER BY revenue DESC, payment_method ASC
