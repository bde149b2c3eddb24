-- retention_cohorts.sql over the business rollup: the `users` CTE spans every day before `end`
-- ([first, until) from the oldest day), for each user's first day ever; the same columns. One pass
-- per user instead of the raw query's join: the user's cohort week and the weeks of [start, end) it
-- was active in (a cohort user is active in its cohort week, so cohort_size = the users of offset 0).
-- Users keyed by cityHash64(user_id), as the distinct user counts are (exact barring a 64-bit collision).
WITH
-- @include business_users
SELECT
    cohort_week,
    toUInt32(dateDiff('week', cohort_week, active_week)) AS week_offset,
    any(size) AS cohort_size,
    count() AS active_users,
    if(cohort_size = 0, 0, active_users / cohort_size) AS retention
FROM
(
    SELECT cohort_week, weeks, count() OVER (PARTITION BY cohort_week) AS size
    FROM
    (
        SELECT
            toMonday(min(day)) AS cohort_week,
            groupUniqArrayIf(toMonday(day), day >= toDate({start:DateTime64(3)})) AS weeks
        FROM users
        GROUP BY cityHash64(user_id)
    )
    WHERE toDateTime(cohort_week, 'UTC') >= {start:DateTime64(3)} AND toDateTime(cohort_week, 'UTC') < {end:DateTime64(3)}
)
ARRAY JOIN weeks AS active_week
WHERE active_week >= cohort_week
GROUP BY cohort_week, week_offset
ORDER BY cohort_week, week_offset
