-- The web overview's totals over [start, end) with the same filters as web_panels.sql (used for the
-- previous period: ClickHouse computes only the session columns this reads).
-- Columns: visitors, pageviews, sessions, bounces (UInt64), duration_sum Float64 (sum of duration_s)
WITH
-- @include sessions
SELECT
    uniqExact(cityHash64(user_id)) AS visitors,
    sum(views) AS pageviews,
    count() AS sessions,
    countIf(views = 1) AS bounces,
    sum(duration_s) AS duration_sum
FROM sessions
WHERE ({page:String} = '' OR has(page_views, {page:String}))
  AND ({source:String} = '' OR source = {source:String})
  AND ({referrer:String} = '' OR referrer = {referrer:String})
  AND ({site:String} = '' OR site = {site:String})
  AND ({device:String} = '' OR splitByChar('\0', segment)[1] = {device:String})
  AND ({browser:String} = '' OR splitByChar('\0', segment)[2] = {browser:String})
  AND ({os:String} = '' OR splitByChar('\0', segment)[3] = {os:String})
  AND ({country:String} = '' OR splitByChar('\0', segment)[4] = {country:String})
