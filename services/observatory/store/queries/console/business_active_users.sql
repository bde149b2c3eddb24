-- active_users.sql over the business rollup (days [first, until); granularity day, week or month, not
-- hour): distinct users per bucket, a user being in business_users on each day it had an event; the
-- buckets with users; the same columns. (The forecasts' `dau` history reads it: observatory.forecaster.series.)
WITH
-- @include business_users
SELECT
    toDateTime(dateTrunc({granularity:String}, day), 'UTC') AS bucket,
    uniqExact(cityHash64(user_id)) AS active_users
FROM users
GROUP BY bucket
ORDER BY bucket
