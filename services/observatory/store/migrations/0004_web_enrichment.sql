-- Web enrichment columns, filled by the consumer (observatory/events/enrich.py) from the SDK's
-- properties or the request's User-Agent and client address. Bounded value sets (documented in
-- docs/analytics.md); '' = not a web event / unknown. client_ip stays '' unless
-- OBS_CONSUMER_STORE_CLIENT_IP=true. Older rows read as ''. No DEFAULT: the consumer's sink leaves DEFAULT
-- columns to ClickHouse, and these are filled from the event's keys.
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS device_type LowCardinality(String);
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS browser LowCardinality(String);
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS os LowCardinality(String);
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS country LowCardinality(String);
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS acquisition_source LowCardinality(String);
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS referrer_host LowCardinality(String);
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS page_path String;
ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS client_ip String;
