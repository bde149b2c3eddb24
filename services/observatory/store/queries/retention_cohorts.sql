-- Weekly retention cohorts. A user's cohort is the ISO week (Monday, UTC) of their first event ever;
-- cohorts whose week starts in [start, end) are shown. FINAL throughout: a replaced row's user (same
-- event_id, another user_id) is not a user. week_offset n counts the cohort's users
-- active in the n-th week after it (0 = the cohort week itself, = cohort_size), up to `end`.
-- Columns: cohort_week Date, week_offset UInt32, cohort_size UInt64, active_users UInt64, retention Float64
SELECT
    cohort_week,
    toUInt32(dateDiff('week', cohort_week, active_week)) AS week_offset,
    any(size) AS cohort_size,
    uniqExact(user_id) AS active_users,
    if(cohort_size = 0, 0, active_users / cohort_size) AS retention
FROM
(
    SELECT a.user_id AS user_id, f.cohort_week AS cohort_week, a.active_week AS active_week, f.size AS size
    FROM
    (
        SELECT DISTINCT user_id, toMonday(timestamp) AS active_week
        FROM ${db}.events FINAL
        WHERE timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
    ) AS a
    INNER JOIN
    (
        SELECT user_id, cohort_week, count() OVER (PARTITION BY cohort_week) AS size
        FROM
        (
            SELECT user_id, toMonday(min(timestamp)) AS cohort_week
            FROM ${db}.events FINAL
            WHERE timestamp < {end:DateTime64(3)}
            GROUP BY user_id
        )
        WHERE toDateTime(cohort_week, 'UTC') >= {start:DateTime64(3)} AND toDateTime(cohort_week, 'UTC') < {end:DateTime64(3)}
    ) AS f ON a.user_id = f.user_id
)
WHERE active_week >= cohort_week
GROUP BY cohort_week, week_offset
ORDER BY cohort_week, week_offset
