-- Top {limit} referring hosts of sessions (the first pageview's referrer; direct and internal visits
-- excluded; ties by host).
-- Columns: referrer_host String, source String (search | social | referral | campaign), sessions,
--          visitors (UInt64)
-- Sessions: the `sessions` CTE of include/sessions.sql (by session id, else 30 idle minutes).
WITH
-- @include sessions
SELECT
    referrer AS referrer_host,
    any(s.source) AS source,
    count() AS sessions,
    uniqExact(cityHash64(user_id)) AS visitors
FROM sessions AS s
WHERE s.referrer != '' AND s.source NOT IN ('direct', 'internal')
GROUP BY referrer_host
ORDER BY sessions DESC, referrer_host
LIMIT {limit:UInt32}
