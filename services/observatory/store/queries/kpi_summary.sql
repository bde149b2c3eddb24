-- One row of headline KPIs over [start, end) (reports, anomaly gauges, stat panels).
-- Columns: active_users, signups, orders (UInt64), revenue, average_order_value (Float64),
--          payment_attempts, payment_failures (UInt64), payment_failure_rate (Float64),
--          refunds (UInt64), refund_rate (Float64), purchasers (UInt64), purchase_conversion (Float64:
--          purchasers / active users)
SELECT
    uniqExact(cityHash64(user_id)) AS active_users,
    countIf(event_name = 'user_signup') AS signups,
    countIf(event_name = 'purchase_completed') AS orders,
    sumIf(toInt64(round(JSONExtractFloat(properties, 'total_value') * 100)), event_name = 'purchase_completed') / 100 AS revenue,
    if(orders = 0, 0, revenue / orders) AS average_order_value,
    countIf(event_name IN ('purchase_completed', 'payment_failed')) AS payment_attempts,
    countIf(event_name = 'payment_failed') AS payment_failures,
    if(payment_attempts = 0, 0, payment_failures / payment_attempts) AS payment_failure_rate,
    countIf(event_name = 'refund_requested') AS refunds,
    if(orders = 0, 0, refunds / orders) AS refund_rate,
    uniqExactIf(cityHash64(user_id), event_name = 'purchase_completed') AS purchasers,
    if(active_users = 0, 0, purchasers / active_users) AS purchase_conversion
FROM ${db}.events FINAL
WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
