-- New vs returning active users per bucket of {granularity}. A user is new in the bucket that holds
-- their first event ever (all history, not only the range), returning in every later bucket.
-- Columns: bucket DateTime('UTC'), active_users, new_users, returning_users (UInt64)
SELECT
    a.bucket AS bucket,
    count() AS active_users,
    countIf(f.first_bucket = a.bucket) AS new_users,
    countIf(f.first_bucket < a.bucket) AS returning_users
FROM
(
    SELECT DISTINCT toDateTime(dateTrunc({granularity:String}, timestamp), 'UTC') AS bucket, user_id
    FROM ${db}.events FINAL
    WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
) AS a
INNER JOIN
(
    SELECT user_id, toDateTime(dateTrunc({granularity:String}, min(timestamp)), 'UTC') AS first_bucket
    FROM ${db}.events
    WHERE timestamp < {end:DateTime64(3)}
    GROUP BY user_id
) AS f ON a.user_id = f.user_id
GROUP BY bucket
ORDER BY bucket
