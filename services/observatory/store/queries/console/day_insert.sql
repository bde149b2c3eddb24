-- Writes the sessions of one UTC day [start, end) into web_sessions under {version:UInt64}.
INSERT INTO ${db}.web_sessions
    (day, version, user_id, started, duration_s, views, entry_page, exit_page, source, referrer, campaign, site,
     segment, page_views)
WITH
-- @include sessions
SELECT toDate({start:DateTime64(3)}), {version:UInt64}, user_id, started, duration_s, views, entry_page, exit_page,
       source, referrer, campaign, site, segment, page_views
FROM sessions
