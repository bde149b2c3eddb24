-- The `users` CTE of the business rollup's readers (observatory.store.business): the rows
-- business_users holds for the days [first, until) (Date parameters), each day's newest version
-- (business_insert_users.sql writes them). One row per (day, user) with an event that day.
-- Columns: day Date, user_id String, n_events, n_signups, n_purchases, n_payment_failures,
--          n_refunds (UInt32), revenue_cents Int64
users AS
(
    SELECT day, user_id, n_events, n_signups, n_purchases, n_payment_failures, n_refunds, revenue_cents
    FROM ${db}.business_users
    WHERE day >= {first:Date} AND day < {until:Date}
      AND (day, version) IN
          (
              SELECT day, max(version)
              FROM ${db}.business_days
              WHERE day >= {first:Date} AND day < {until:Date}
              GROUP BY day
          )
)
