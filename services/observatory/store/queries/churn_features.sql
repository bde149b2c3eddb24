-- Churn model features per user over [start, end) (the model uses the six months before a cutoff = end).
-- A user appears when they have an event in the range.
-- Columns: user_id String, recency_days Float64 (end - last event, days), frequency UInt64 (active
--          days), monetary Float64 (revenue of purchase_completed), sessions UInt64 (distinct session
--          ids), support_tickets, refunds, payment_failures (UInt64), country, device_type, source
--          (String: latest non-empty country and device, first acquisition source other than internal),
--          plan String (plan property of the user's latest user_signup before end, '' if none)
SELECT
    f.user_id AS user_id,
    f.recency_days, f.frequency, f.monetary, f.sessions, f.support_tickets, f.refunds, f.payment_failures,
    f.country, f.device_type, f.source,
    p.plan AS plan
FROM
(
    SELECT
        user_id,
        dateDiff('millisecond', max(timestamp), {end:DateTime64(3)}) / 86400000 AS recency_days,
        uniqExact(toDate(timestamp)) AS frequency,
        sumIf(toInt64(round(JSONExtractFloat(properties, 'total_value') * 100)), event_name = 'purchase_completed') / 100
            AS monetary,
        uniqExactIf(session_id, session_id != '') AS sessions,
        countIf(event_name = 'customer_support_ticket') AS support_tickets,
        countIf(event_name = 'refund_requested') AS refunds,
        countIf(event_name = 'payment_failed') AS payment_failures,
        argMaxIf(country, (timestamp, country), country != '') AS country,
        argMaxIf(device_type, (timestamp, device_type), device_type != '') AS device_type,
        argMinIf(acquisition_source, (timestamp, acquisition_source), acquisition_source NOT IN ('', 'internal'))
            AS source
    FROM ${db}.events FINAL
    WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
    GROUP BY user_id
) AS f
LEFT JOIN
(
    SELECT user_id, argMax(JSONExtractString(properties, 'plan'), (timestamp, event_id)) AS plan
    FROM ${db}.events
    WHERE event_name = 'user_signup' AND timestamp < {end:DateTime64(3)}
    GROUP BY user_id
) AS p ON f.user_id = p.user_id
ORDER BY user_id
