-- Raw events. ReplacingMergeTree keyed (ORDER BY) on the event's identity: a redelivered event has
-- the same event_name, day and event_id, so background merges collapse it, and queries read
-- with FINAL see each event_id exactly once even before merges ran.
CREATE TABLE IF NOT EXISTS ${db}.events
(
    event_id     UUID,
    event_name   LowCardinality(String),
    timestamp    DateTime64(3, 'UTC'),
    user_id      String,
    session_id   String,
    properties   String CODEC(ZSTD(3)),          -- the event's properties as JSON text
    source       LowCardinality(String),         -- name of the API key that sent it
    received_at  DateTime64(3, 'UTC'),           -- when ingest accepted it
    inserted_at  DateTime64(3, 'UTC')            -- when the consumer inserted it (end-to-end latency)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (event_name, toDate(timestamp), event_id)
TTL toDateTime(timestamp) + INTERVAL ${ttl_days} DAY DELETE
SETTINGS ttl_only_drop_parts = 1;
