-- Purchase funnel over [start, end): user_signup -> product_viewed -> add_to_cart -> checkout_started
-- -> purchase_completed, in that order, each step within {window_seconds} of the user's signup
-- (ClickHouse windowFunnel, default mode: other events may occur in between).
-- users = users who reached at least that step; conversion_from_previous = users / users of the
-- step before (NULL for step 1 or when the previous step has no users); conversion_from_start =
-- users / users of step 1.
-- Columns: step UInt8, event_name String, users UInt64, conversion_from_previous Nullable(Float64),
--          conversion_from_start Nullable(Float64)
WITH
    ['user_signup', 'product_viewed', 'add_to_cart', 'checkout_started', 'purchase_completed'] AS steps,
    per_user AS
    (
        SELECT
            user_id,
            windowFunnel(toUInt64({window_seconds:UInt32}) * 1000)(
                toUInt64(toUnixTimestamp64Milli(timestamp)),
                event_name = 'user_signup',
                event_name = 'product_viewed',
                event_name = 'add_to_cart',
                event_name = 'checkout_started',
                event_name = 'purchase_completed') AS level
        FROM ${db}.events FINAL
        WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
          AND event_name IN ('user_signup', 'product_viewed', 'add_to_cart', 'checkout_started', 'purchase_completed')
        GROUP BY user_id
    ),
    counts AS
    (
        SELECT step, countIf(level >= step) AS users
        FROM per_user
        ARRAY JOIN [1, 2, 3, 4, 5] AS step
        GROUP BY step
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
