-- What each computation of a day rollup (web_session_days, business_days; observatory.store.rollup)
-- saw of the day's events before it ran: their newest inserted_at (ms) and their row count (no FINAL:
-- what the events' day_versions projection answers). A day is fresh only while both still match.
-- The newest stamp alone missed rows committed late with an older stamp (two consumers, or clock skew
-- between their hosts: a batch stamped t1 visible after one stamped t2 > t1). From now on `version` is
-- unique and increasing per day (max(seen_newest, previous version + 1)), no longer the stamp itself.
-- Existing markers read 0 for both (a day always has at least one event): each day is computed once more.
ALTER TABLE ${db}.web_session_days ADD COLUMN IF NOT EXISTS seen_newest UInt64 DEFAULT 0;
ALTER TABLE ${db}.web_session_days ADD COLUMN IF NOT EXISTS seen_events UInt64 DEFAULT 0;
ALTER TABLE ${db}.business_days ADD COLUMN IF NOT EXISTS seen_newest UInt64 DEFAULT 0;
ALTER TABLE ${db}.business_days ADD COLUMN IF NOT EXISTS seen_events UInt64 DEFAULT 0;
