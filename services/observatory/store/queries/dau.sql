-- Daily active users: distinct user_id with at least one event per UTC day in [start, end).
-- Columns: day Date, active_users UInt64
SELECT
    toDate(timestamp) AS day,
    uniqExact(cityHash64(user_id)) AS active_users
FROM ${db}.events FINAL
WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY day
ORDER BY day
