-- Forecasts written by the forecaster at every model refresh, for dashboards (actual vs band).
-- One row per (metric, granularity, ds): fitted values over the history (is_forecast = 0) and the
-- forecast beyond it (is_forecast = 1). ReplacingMergeTree(fitted_at) keeps the newest fit of each
-- bucket: read with FINAL.
CREATE TABLE IF NOT EXISTS ${db}.forecasts
(
    metric         LowCardinality(String),     -- revenue, orders, dau, signups, events:<name>
    granularity    LowCardinality(String),     -- day | hour
    ds             DateTime('UTC'),            -- bucket start
    yhat           Float64,
    yhat_lower     Float64,
    yhat_upper     Float64,
    is_forecast    UInt8,
    fitted_at      DateTime64(3, 'UTC'),
    history_start  DateTime('UTC'),
    history_end    DateTime('UTC'),            -- start of the last observed bucket
    backtest_mape  Nullable(Float64),
    backtest_mase  Nullable(Float64)
)
ENGINE = ReplacingMergeTree(fitted_at)
PARTITION BY toYYYYMM(ds)
ORDER BY (metric, granularity, ds)
TTL ds + INTERVAL ${ttl_days} DAY DELETE;
