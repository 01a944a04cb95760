WITH customer__memberships_dims AS (
  SELECT
    j_customer__memberships.customer_id AS customer_id,
    j_customer__memberships.partition_day AS partition_day,
    j_customer__memberships__plan.plan_name AS plan__plan_name
  FROM "shop"."main"."memberships" AS j_customer__memberships
  LEFT JOIN "shop"."main"."plans" AS j_customer__memberships__plan
    ON j_customer__memberships.plan_id = j_customer__memberships__plan.plan_id
), sessions_agg AS (
  SELECT
    j_customer.region AS customer__region,
    j_customer__memberships.plan__plan_name AS customer__plan__plan_name,
    COUNT(src.session_id) AS sessions,
    SUM(src.page_views) AS page_views
  FROM "shop"."main"."sessions" AS src
  LEFT JOIN "shop"."main"."customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  LEFT JOIN customer__memberships_dims AS j_customer__memberships
    ON src.customer_id = j_customer__memberships.customer_id
    AND src.partition_day = j_customer__memberships.partition_day
  GROUP BY
    j_customer.region,
    j_customer__memberships.plan__plan_name
)
SELECT
  sessions_agg.customer__region AS customer__region,
  sessions_agg.customer__plan__plan_name AS customer__plan__plan_name,
  sessions_agg.sessions AS sessions,
  sessions_agg.page_views AS page_views
FROM sessions_agg
