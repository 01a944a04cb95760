-- Shape no_tie_rank of upgrade_funnel_by_month: metricsctl's output at commit da1681a, changed:
-- the base events (500k sessions at 5M) go to the ASOF join without the ROW_NUMBER that keeps one
-- session per customer and day: every group-by item here (the month, customer__segment) is the same
-- for sessions of one customer and day, so which of them the join picks does not change the answer.
WITH sessions_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.session_date) AS metric_time__month,
    j_customer.segment AS customer__segment,
    COUNT(src.session_id) AS sessions
  FROM "stg_sessions" AS src
  LEFT JOIN "stg_customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  GROUP BY
    DATE_TRUNC('MONTH', src.session_date),
    j_customer.segment
), upgrades_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.upgraded_date) AS metric_time__month,
    j_customer.segment AS customer__segment,
    COUNT(src.upgrade_id) AS upgrades
  FROM "stg_upgrades" AS src
  LEFT JOIN "stg_customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  GROUP BY
    DATE_TRUNC('MONTH', src.upgraded_date),
    j_customer.segment
), sessions_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.session_date) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.session_date) AS metric_time__month,
    j_customer.segment AS customer__segment
  FROM "stg_sessions" AS src
  LEFT JOIN "stg_customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
), upgrades_conversion_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.upgraded_date) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.upgrade_id AS __value
  FROM "stg_upgrades" AS src
), upgrades_attributed AS (
  SELECT
    sessions_base_events.metric_time__month,
    sessions_base_events.customer__segment,
    upgrades_conversion_events.__value
  FROM upgrades_conversion_events
  ASOF JOIN sessions_base_events
    ON sessions_base_events.__entity = upgrades_conversion_events.__entity
    AND sessions_base_events.__day <= upgrades_conversion_events.__day
  WHERE
    sessions_base_events.__day > upgrades_conversion_events.__day - INTERVAL '7' DAY
), upgrades_conversions AS (
  SELECT
    upgrades_attributed.metric_time__month,
    upgrades_attributed.customer__segment,
    COUNT(upgrades_attributed.__value) AS upgrades__2
  FROM upgrades_attributed
  GROUP BY
    upgrades_attributed.metric_time__month,
    upgrades_attributed.customer__segment
), group_keys AS (
  SELECT
    metric_time__month,
    customer__segment
  FROM sessions_agg
  UNION
  SELECT
    metric_time__month,
    customer__segment
  FROM upgrades_agg
  UNION
  SELECT
    metric_time__month,
    customer__segment
  FROM upgrades_conversions
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  group_keys.customer__segment AS customer__segment,
  sessions_agg.sessions AS sessions,
  upgrades_agg.upgrades AS upgrades,
  upgrades_conversions.upgrades__2 AS upgrade_conversions,
  CAST(upgrades_conversions.upgrades__2 AS DOUBLE) / CAST(NULLIF(sessions_agg.sessions, 0) AS DOUBLE) AS upgrade_conversion_rate
FROM group_keys
LEFT JOIN sessions_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM sessions_agg.metric_time__month
  AND group_keys.customer__segment IS NOT DISTINCT FROM sessions_agg.customer__segment
LEFT JOIN upgrades_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM upgrades_agg.metric_time__month
  AND group_keys.customer__segment IS NOT DISTINCT FROM upgrades_agg.customer__segment
LEFT JOIN upgrades_conversions
  ON group_keys.metric_time__month IS NOT DISTINCT FROM upgrades_conversions.metric_time__month
  AND group_keys.customer__segment IS NOT DISTINCT FROM upgrades_conversions.customer__segment