-- Per UTC day of [start, end): the newest inserted_at (ms) of its web events now, and the version
-- web_sessions holds for it (0: never computed). A day is fresh when the two are equal. No FINAL:
-- a maximum does not change with duplicates. [start, end) is whole days (observatory.store.web only
-- refreshes those): the WHERE is on toDate(timestamp) so the events' day_versions projection
-- (migration 0007) answers it.
-- Columns: day Date, current UInt64, stored UInt64
SELECT day, current, stored
FROM
(
    SELECT toDate(timestamp) AS day, toUInt64(toUnixTimestamp64Milli(max(inserted_at))) AS current
    FROM ${db}.events
    WHERE event_name IN ('$$pageview', '$$pageleave')
      AND toDate(timestamp) >= toDate({start:DateTime64(3)}) AND toDate(timestamp) < toDate({end:DateTime64(3)})
    GROUP BY day
) AS e
LEFT JOIN
(
    SELECT day, max(version) AS stored
    FROM ${db}.web_session_days
    WHERE day >= toDate({start:DateTime64(3)}) AND day < toDate({end:DateTime64(3)})
    GROUP BY day
) AS d USING (day)
ORDER BY day
