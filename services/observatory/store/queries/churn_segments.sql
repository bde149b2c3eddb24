-- Churn risk per segment from the newest scoring run at or before {end} (table churn_scores, written
-- monthly by the forecaster): users, mean churn probability, users at risk (probability >= 0.5).
-- Segments: country, device_type, source, plan ('' = unknown) and `all`.
-- Columns: cutoff Date, segment String, value String, users UInt64, mean_probability Float64,
--          at_risk UInt64
WITH (SELECT max(cutoff) FROM ${db}.churn_scores WHERE cutoff <= toDate({end:DateTime64(3)})) AS latest
SELECT latest AS cutoff, segment, value, count() AS users, avg(probability) AS mean_probability,
       countIf(probability >= 0.5) AS at_risk
FROM ${db}.churn_scores FINAL
ARRAY JOIN ['all', 'country', 'device_type', 'source', 'plan'] AS segment,
           ['', country, device_type, source, plan] AS value
WHERE cutoff = latest
GROUP BY segment, value
ORDER BY segment, users DESC, value
