-- Active users per bucket of {granularity} (hour|day|week|month; weeks start on Monday, UTC):
-- distinct user_id with at least one event in the bucket. granularity=day is DAU.
-- Columns: bucket DateTime('UTC'), active_users UInt64
SELECT
    toDateTime(dateTrunc({granularity:String}, timestamp), 'UTC') AS bucket,
    uniqExact(cityHash64(user_id)) AS active_users
FROM ${db}.events FINAL
WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY bucket
ORDER BY bucket
