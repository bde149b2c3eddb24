-- funnel.sql when few of the step events are the first step's (observatory.store.business picks it:
-- the same columns and values): only users with a first-step event in the range can reach a step, so
-- only their step events are read (the first step's users without FINAL: a superset, exact since the
-- levels come from the FINAL rows; users keyed by cityHash64(user_id), as the distinct counts are).
-- Rows for every step when some step event is in the range (users 0 when nobody did the first), none
-- otherwise, as funnel.sql.
-- Funnel over [start, end) through {steps} (2..8 event names, in order; the API's default is the
-- purchase funnel user_signup -> product_viewed -> add_to_cart -> checkout_started ->
-- purchase_completed), each step within {window_seconds} of the user's first step (ClickHouse
-- windowFunnel, default mode: other events may occur in between). The steps are one bound
-- Array(String) parameter: the eight conditions compare with steps[1..8], and a step past the
-- array's end is '' (no event has an empty name), so it never matches.
-- users = users who reached at least that step; conversion_from_previous = users / users of the
-- step before (NULL for step 1 or when the previous step has no users); conversion_from_start =
-- users / users of step 1.
-- Columns: step UInt8, event_name String, users UInt64, conversion_from_previous Nullable(Float64),
--          conversion_from_start Nullable(Float64)
WITH
    {steps:Array(String)} AS steps,
    per_user AS
    (
        SELECT
            cityHash64(user_id) AS uid,
            windowFunnel(toUInt64({window_seconds:UInt32}) * 1000)(
                toUInt64(toUnixTimestamp64Milli(timestamp)),
                event_name = steps[1],
                event_name = steps[2],
                event_name = steps[3],
                event_name = steps[4],
                event_name = steps[5],
                event_name = steps[6],
                event_name = steps[7],
                event_name = steps[8]) AS level
        FROM ${db}.events FINAL
        WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
          AND event_name IN {steps:Array(String)}
          AND cityHash64(user_id) IN
              (
                  SELECT cityHash64(user_id)
                  FROM ${db}.events
                  WHERE event_name = arrayElement({steps:Array(String)}, 1)
                    AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
              )
        GROUP BY uid
    ),
    present AS
    (
        SELECT count() AS n
        FROM
        (
            SELECT 1
            FROM ${db}.events FINAL
            WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
              AND event_name IN {steps:Array(String)}
            LIMIT 1
        )
    ),
    counts AS
    (
        SELECT step, reached[step] AS users
        FROM
        (
            SELECT [countIf(level >= 1), countIf(level >= 2), countIf(level >= 3), countIf(level >= 4),
                    countIf(level >= 5), countIf(level >= 6), countIf(level >= 7), countIf(level >= 8)] AS reached
            FROM per_user
        )
        ARRAY JOIN if((SELECT n FROM present) > 0, arrayEnumerate(steps), []) AS step
    )
SELECT
    toUInt8(step) AS step,
    steps[step] AS event_name,
    users,
    if(step = 1, NULL, users / nullIf(lagInFrame(users, 1, 0) OVER w, 0)) AS conversion_from_previous,
    users / nullIf(first_value(users) OVER w, 0) AS conversion_from_start
FROM counts
WINDOW w AS (ORDER BY step ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY step
