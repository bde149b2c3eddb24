-- Per UTC day of [first, until) (Date parameters) with events of a day rollup (observatory.store.rollup):
-- what those events are now (the newest inserted_at in ms, and their row count) and what the rollup's
-- newest computation of the day saw (its marker table ${days_table}: version, 0 when never computed,
-- seen_newest, seen_events). A day is fresh when both figures match. No FINAL: duplicates count as rows
-- until a merge collapses them (one more computation then). The rollup's events are ${events} (the web
-- rollup: its pageview and pageleave events; the business rollup: all). The WHERE is on toDate(timestamp)
-- so the events' day_versions projection (migration 0007) answers it.
-- Columns: day Date, newest UInt64, n_events UInt64, stored UInt64 (the version), stored_newest UInt64,
--          stored_events UInt64
SELECT day, newest, n_events, stored, stored_newest, stored_events
FROM
(
    SELECT toDate(timestamp) AS day, toUInt64(toUnixTimestamp64Milli(max(inserted_at))) AS newest,
           toUInt64(count()) AS n_events
    FROM ${db}.events
    WHERE ${events} AND toDate(timestamp) >= {first:Date} AND toDate(timestamp) < {until:Date}
    GROUP BY day
) AS e
LEFT JOIN
(
    SELECT day, max(version) AS stored, argMax(seen_newest, version) AS stored_newest,
           argMax(seen_events, version) AS stored_events
    FROM ${db}.${days_table}
    WHERE day >= {first:Date} AND day < {until:Date}
    GROUP BY day
) AS d USING (day)
ORDER BY day
