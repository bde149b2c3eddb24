-- wau_mau.sql over the business rollup: the `users` CTE spans [start - 29 days, end) (its Date
-- parameters), so the look-back is in it; the same columns. Each active day is spread over the days
-- of [start, end) it counts for (the raw query spreads it over 30 days, then drops those outside).
WITH
-- @include business_users
SELECT
    day,
    uniqExactIf(uid, active_day = day) AS dau,
    uniqExactIf(uid, active_day > day - 7) AS wau,
    uniqExact(uid) AS mau,
    if(mau = 0, 0, dau / mau) AS dau_over_mau
FROM
(
    SELECT cityHash64(user_id) AS uid, day AS active_day  -- one row per (day, user) already: no DISTINCT
    FROM users
)
ARRAY JOIN arrayFilter(
    d -> d >= toDate({start:DateTime64(3)}) AND toDateTime(d, 'UTC') < {end:DateTime64(3)},
    arrayMap(i -> active_day + i, range(30))) AS day
GROUP BY day
ORDER BY day
