-- Revenue, orders and average order value per bucket of {granularity}, from purchase_completed.
-- Amounts are summed in integer cents (exact), then divided by 100. Gross: refunds not subtracted.
-- Columns: bucket DateTime('UTC'), revenue Float64, orders UInt64, average_order_value Float64
SELECT
    toDateTime(dateTrunc({granularity:String}, timestamp), 'UTC') AS bucket,
    sum(toInt64(round(JSONExtractFloat(properties, 'total_value') * 100))) / 100 AS revenue,
    count() AS orders,
    if(orders = 0, 0, revenue / orders) AS average_order_value
FROM ${db}.events FINAL
WHERE event_name = 'purchase_completed'
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY bucket
ORDER BY bucket
