-- Writes business_users for the UTC days {days:Array(Date)}, each under its version (the same
-- position of {versions:Array(UInt64)}), from events FINAL (a redelivered event counts once, a
-- replaced one as its newest row). Revenue as kpi_summary.sql sums it: round(total_value * 100) per
-- purchase, in integer cents; the JSON is read only for purchases (if() short-circuits).
INSERT INTO ${db}.business_users
    (day, version, user_id, n_events, n_signups, n_purchases, n_payment_failures, n_refunds, revenue_cents)
SELECT
    toDate(timestamp) AS d,
    transform(d, {days:Array(Date)}, {versions:Array(UInt64)}, toUInt64(0)),
    user_id,
    count(),
    countIf(event_name = 'user_signup'),
    countIf(event_name = 'purchase_completed'),
    countIf(event_name = 'payment_failed'),
    countIf(event_name = 'refund_requested'),
    sum(if(event_name = 'purchase_completed', toInt64(round(JSONExtractFloat(properties, 'total_value') * 100)), 0))
FROM ${db}.events FINAL
WHERE timestamp >= toDateTime64(arrayMin({days:Array(Date)}), 3, 'UTC')
  AND timestamp < toDateTime64(arrayMax({days:Array(Date)}) + 1, 3, 'UTC')
  AND toDate(timestamp) IN {days:Array(Date)}
GROUP BY d, user_id
