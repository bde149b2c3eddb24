-- Rolling active users per UTC day in [start, end): DAU, WAU (distinct users over the 7 days ending
-- that day) and MAU (30 days ending that day). Activity before `start` counts for the look-back.
-- Columns: day Date, dau UInt64, wau UInt64, mau UInt64, dau_over_mau Float64 (stickiness)
SELECT
    day,
    uniqExactIf(uid, active_day = day) AS dau,
    uniqExactIf(uid, active_day > day - 7) AS wau,
    uniqExact(uid) AS mau,
    if(mau = 0, 0, dau / mau) AS dau_over_mau
FROM
(
    SELECT DISTINCT cityHash64(user_id) AS uid, toDate(timestamp) AS active_day
    FROM ${db}.events FINAL
    WHERE timestamp >= toDateTime64(toDate({start:DateTime64(3)}) - 29, 3, 'UTC')
      AND timestamp < {end:DateTime64(3)}
)
ARRAY JOIN arrayMap(i -> active_day + i, range(30)) AS day
WHERE day >= toDate({start:DateTime64(3)}) AND toDateTime(day, 'UTC') < {end:DateTime64(3)}
GROUP BY day
ORDER BY day
