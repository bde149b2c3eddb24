-- Visitors right now: distinct users with a pageview or pageleave event in [since, until) ('' site = every
-- ingest key, else only events sent with that key). Reads events FINAL.
-- Columns: visitors UInt64
SELECT uniqExact(cityHash64(user_id)) AS visitors
FROM ${db}.events FINAL
WHERE event_name IN ('$$pageview', '$$pageleave')
  AND timestamp >= {since:DateTime64(3)} AND timestamp < {until:DateTime64(3)}
  AND ({site:String} = '' OR source = {site:String})
