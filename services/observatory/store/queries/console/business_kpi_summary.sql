-- kpi_summary.sql over the business rollup (the `users` CTE, days [first, until)): the same columns.
WITH
-- @include business_users
SELECT
    uniqExact(cityHash64(user_id)) AS active_users,
    sum(n_signups) AS signups,
    sum(n_purchases) AS orders,
    sum(revenue_cents) / 100 AS revenue,
    if(orders = 0, 0, revenue / orders) AS average_order_value,
    orders + sum(n_payment_failures) AS payment_attempts,
    sum(n_payment_failures) AS payment_failures,
    if(payment_attempts = 0, 0, payment_failures / payment_attempts) AS payment_failure_rate,
    sum(n_refunds) AS refunds,
    if(orders = 0, 0, refunds / orders) AS refund_rate,
    uniqExactIf(cityHash64(user_id), n_purchases > 0) AS purchasers,
    if(active_users = 0, 0, purchasers / active_users) AS purchase_conversion
FROM users
