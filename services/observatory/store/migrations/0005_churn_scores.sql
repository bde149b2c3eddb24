-- Monthly churn scores written by the forecaster (observatory/churn/): the probability that a user
-- active in the six months before `cutoff` has no event in the 30 days from it, with the user's
-- segment (country, device, source, plan) and the features the model saw. One scoring run per
-- cutoff; ReplacingMergeTree(scored_at) keeps the newest run of a (cutoff, user): read with FINAL.
CREATE TABLE IF NOT EXISTS ${db}.churn_scores
(
    cutoff           Date,
    user_id          String,
    probability      Float64,
    country          LowCardinality(String),
    device_type      LowCardinality(String),
    source           LowCardinality(String),
    plan             LowCardinality(String),
    recency_days     Float64,
    frequency        UInt32,
    monetary         Float64,
    sessions         UInt32,
    support_tickets  UInt32,
    refunds          UInt32,
    payment_failures UInt32,
    scored_at        DateTime64(3, 'UTC'),
    model_auc        Nullable(Float64),
    model_brier      Nullable(Float64)
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(cutoff)
ORDER BY (cutoff, user_id)
TTL cutoff + INTERVAL ${ttl_days} DAY DELETE;
