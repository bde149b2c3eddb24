-- The business page's day rollup, written by the forecaster's analytics API (observatory.store.business)
-- the first time a whole UTC day is asked for and again whenever events of that day were inserted
-- since. Computed from `events FINAL` over that day alone, so it equals the raw queries' answer with
-- duplicates and replaced rows collapsed. `version` is the newest inserted_at (ms) of the day's
-- events when it was computed; business_days holds each computed (day, version), and readers take
-- each day's highest version (rows of older versions are deleted once a newer one is written).
-- business_users: one row per (day, user) with an event that day: its events, signups, purchases,
-- payment failures and refunds, and the revenue of its purchases in integer cents
-- (round(total_value * 100) each, as kpi_summary.sql sums it).
CREATE TABLE IF NOT EXISTS ${db}.business_users
(
    day              Date,
    version          UInt64,
    user_id          String,
    n_events           UInt32,
    n_signups          UInt32,
    n_purchases        UInt32,
    n_payment_failures UInt32,
    n_refunds          UInt32,
    revenue_cents      Int64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, version, user_id)
TTL day + INTERVAL ${ttl_days} DAY DELETE;

-- business_products: one row per (day, product_id) of the items of purchase_completed: revenue in
-- cents (quantity x round(price * 100)), units, and n_orders (distinct purchases holding the product;
-- a purchase belongs to one day, so the days' orders add up).
CREATE TABLE IF NOT EXISTS ${db}.business_products
(
    day           Date,
    version       UInt64,
    product_id    String,
    revenue_cents Int64,
    n_units       UInt64,
    n_orders      UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, version, product_id)
TTL day + INTERVAL ${ttl_days} DAY DELETE;

CREATE TABLE IF NOT EXISTS ${db}.business_days
(
    day         Date,
    version     UInt64,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY day
TTL day + INTERVAL ${ttl_days} DAY DELETE;

-- The freshness checks of both day rollups (console/business_day_versions.sql, console/day_versions.sql)
-- read the newest inserted_at per day and event name, and the funnel's plan (observatory.store.business)
-- the rows per day and event name: an aggregate projection keeps both beside the parts, so they read a
-- few hundred rows instead of every event's timestamp (10M events: 8 ms instead of 80). A ReplacingMergeTree allows a projection only when told what a deduplicating merge
-- does with it: rebuild it from the merged rows. Existing parts get it in the background.
ALTER TABLE ${db}.events MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';
ALTER TABLE ${db}.events ADD PROJECTION IF NOT EXISTS day_versions
    (SELECT toDate(timestamp), event_name, max(inserted_at), count() GROUP BY toDate(timestamp), event_name);
ALTER TABLE ${db}.events MATERIALIZE PROJECTION day_versions;
