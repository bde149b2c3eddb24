-- Per UTC day of [first, until) (Date parameters): the newest inserted_at (ms) of its events now, and
-- the version the business rollup holds for it (0: never computed). A day is fresh when the two
-- are equal. No FINAL: a maximum does not change with duplicates. The WHERE is on toDate(timestamp) so
-- the events' day_versions projection (migration 0007) answers it.
-- Columns: day Date, current UInt64, stored UInt64
SELECT day, current, stored
FROM
(
    SELECT toDate(timestamp) AS day, toUInt64(toUnixTimestamp64Milli(max(inserted_at))) AS current
    FROM ${db}.events
    WHERE toDate(timestamp) >= {first:Date} AND toDate(timestamp) < {until:Date}
    GROUP BY day
) AS e
LEFT JOIN
(
    SELECT day, max(version) AS stored
    FROM ${db}.business_days
    WHERE day >= {first:Date} AND day < {until:Date}
    GROUP BY day
) AS d USING (day)
ORDER BY day
