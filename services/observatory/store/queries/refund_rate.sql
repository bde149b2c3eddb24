-- Refunds per bucket of {granularity}: refund_requested events / purchase_completed events of the
-- same bucket, and refunded amount / revenue (cents, exact). 0 when the bucket has no order.
-- Columns: bucket DateTime('UTC'), orders UInt64, refunds UInt64, refund_rate Float64, revenue_cents Int64,
--          refunded_cents Int64, revenue Float64, refunded_amount Float64, refunded_share Float64
SELECT
    toDateTime(dateTrunc({granularity:String}, timestamp), 'UTC') AS bucket,
    countIf(event_name = 'purchase_completed') AS orders,
    countIf(event_name = 'refund_requested') AS refunds,
    if(orders = 0, 0, refunds / orders) AS refund_rate,
    sumIf(toInt64(round(JSONExtractFloat(properties, 'total_value') * 100)), event_name = 'purchase_completed') AS revenue_cents,
    sumIf(toInt64(round(JSONExtractFloat(properties, 'amount') * 100)), event_name = 'refund_requested') AS refunded_cents,
    revenue_cents / 100 AS revenue,
    refunded_cents / 100 AS refunded_amount,
    if(revenue_cents = 0, 0, refunded_cents / revenue_cents) AS refunded_share
FROM ${db}.events FINAL
WHERE event_name IN ('purchase_completed', 'refund_requested')
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY bucket
ORDER BY bucket
