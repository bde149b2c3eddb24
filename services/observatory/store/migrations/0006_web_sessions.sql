-- The web sessions of whole UTC days, written by the forecaster's web overview (observatory.store.web)
-- the first time a day is asked for and again whenever web events of that day were inserted since:
-- one row per session of the `sessions` CTE (queries/include/sessions.sql) computed over that day
-- alone (sessions cut at midnight). `version` is the newest inserted_at (ms) of the day's web events
-- when it was computed; web_session_days holds each computed (day, version), and readers take each
-- day's highest version (rows of older versions are deleted once a newer one is written).
CREATE TABLE IF NOT EXISTS ${db}.web_sessions
(
    day         Date,
    version     UInt64,
    user_id     String,
    started     DateTime64(3, 'UTC'),
    duration_s  Float64,
    views       UInt64,
    entry_page  String,
    exit_page   String,
    source      LowCardinality(String),
    referrer    String,
    campaign    String,
    site        LowCardinality(String),
    segment     String,
    page_views  Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, version)
TTL day + INTERVAL ${ttl_days} DAY DELETE;

CREATE TABLE IF NOT EXISTS ${db}.web_session_days
(
    day         Date,
    version     UInt64,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY day
TTL day + INTERVAL ${ttl_days} DAY DELETE;
