-- The `kept` CTE of the web overview's queries (overview_panels, overview_totals, overview_pages): the sessions the filters keep,
-- each filter a bound parameter, '' = off. Included with `-- @include kept` after `sessions`.
kept AS
(
    SELECT user_id, started, duration_s, views, entry_page, exit_page, source, referrer, campaign, page_views,
           splitByChar('\0', segment) AS seg
    FROM sessions
    WHERE ({page:String} = '' OR has(page_views, {page:String}))
      AND ({source:String} = '' OR source = {source:String})
      AND ({referrer:String} = '' OR referrer = {referrer:String})
      AND ({site:String} = '' OR site = {site:String})
      AND ({device:String} = '' OR seg[1] = {device:String})
      AND ({browser:String} = '' OR seg[2] = {browser:String})
      AND ({os:String} = '' OR seg[3] = {os:String})
      AND ({country:String} = '' OR seg[4] = {country:String})
)
