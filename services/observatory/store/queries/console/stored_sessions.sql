-- The `sessions` of the web overview's fast path (observatory.store.web): the rows web_sessions holds
-- for the whole days of [start, end), each day's newest version (day_insert.sql writes them). Same
-- columns as include/sessions.sql; sessions are cut at UTC midnight.
sessions AS
(
    SELECT user_id, started, duration_s, views, entry_page, exit_page, source, referrer, campaign, site, segment,
           page_views
    FROM ${db}.web_sessions
    WHERE day >= toDate({start:DateTime64(3)}) AND day < toDate({end:DateTime64(3)})
      AND (day, version) IN
          (
              SELECT day, max(version)
              FROM ${db}.web_session_days
              WHERE day >= toDate({start:DateTime64(3)}) AND day < toDate({end:DateTime64(3)})
              GROUP BY day
          )
)
