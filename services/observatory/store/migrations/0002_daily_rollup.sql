-- Daily rollup for dashboards. uniqExact states over event_id and user_id keep the counts exact
-- even when the consumer re-inserts a redelivered batch (a plain count() rollup would not).
CREATE TABLE IF NOT EXISTS ${db}.events_daily
(
    day        Date,
    event_name LowCardinality(String),
    events     AggregateFunction(uniqExact, UUID),
    users      AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, event_name)
TTL day + INTERVAL ${ttl_days} DAY DELETE;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.events_daily_mv TO ${db}.events_daily AS
SELECT
    toDate(timestamp)          AS day,
    event_name,
    uniqExactState(event_id)   AS events,
    uniqExactState(user_id)    AS users
FROM ${db}.events
GROUP BY day, event_name;
