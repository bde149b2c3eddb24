-- revenue.sql over the business rollup (days [first, until); granularity day, week or month, not
-- hour): revenue in cents summed per bucket, the buckets with purchases; the same columns.
WITH
-- @include business_users
SELECT
    toDateTime(dateTrunc({granularity:String}, day), 'UTC') AS bucket,
    sum(revenue_cents) / 100 AS revenue,
    sum(n_purchases) AS orders,
    if(orders = 0, 0, revenue / orders) AS average_order_value
FROM users
WHERE n_purchases > 0
GROUP BY bucket
ORDER BY bucket
