-- Payment failure rate per bucket of {granularity}: payment_failed / payment attempts, where
-- attempts = payment_failed + purchase_completed (a failed attempt may be retried and succeed).
-- 0 when the bucket holds no attempt.
-- Columns: bucket DateTime('UTC'), attempts UInt64, failures UInt64, failure_rate Float64
SELECT
    toDateTime(dateTrunc({granularity:String}, timestamp), 'UTC') AS bucket,
    count() AS attempts,
    countIf(event_name = 'payment_failed') AS failures,
    if(attempts = 0, 0, failures / attempts) AS failure_rate
FROM ${db}.events FINAL
WHERE event_name IN ('payment_failed', 'purchase_completed')
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY bucket
ORDER BY bucket
