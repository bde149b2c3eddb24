-- Events named {event_name} per bucket of {granularity} over [start, end) (each event_id once).
-- Columns: bucket DateTime('UTC'), events UInt64, users UInt64
SELECT
    toDateTime(dateTrunc({granularity:String}, timestamp), 'UTC') AS bucket,
    count() AS events,
    uniqExact(cityHash64(user_id)) AS users
FROM ${db}.events FINAL
WHERE event_name = {event_name:String}
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY bucket
ORDER BY bucket
