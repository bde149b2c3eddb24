-- The {limit} most frequent exception types of client/server exception events (posthog-js exception
-- autocapture, posthog.captureException, posthog-python capture_exception) over [start, end). The type
-- is the first entry of the exception list, else the exception_type property, else 'Error'. (A double
-- dollar below is a literal dollar for the database substitution: write one when pasting elsewhere.)
-- Columns: exception_type String, exceptions UInt64, affected_users UInt64 (distinct users),
-- last_seen DateTime64(3, 'UTC'), last_message String
SELECT
    coalesce(nullIf(JSONExtractString(properties, '$$exception_list', 1, 'type'), ''),
             nullIf(JSONExtractString(properties, '$$exception_type'), ''), 'Error') AS exception_type,
    count() AS exceptions,
    uniqExact(cityHash64(user_id)) AS affected_users,
    max(timestamp) AS last_seen,
    argMax(coalesce(nullIf(JSONExtractString(properties, '$$exception_list', 1, 'value'), ''),
                    JSONExtractString(properties, '$$exception_message')), (timestamp, event_id)) AS last_message
FROM ${db}.events FINAL
WHERE event_name = '$$exception'
  AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
GROUP BY exception_type
ORDER BY exceptions DESC, exception_type ASC
LIMIT {limit:UInt32}
