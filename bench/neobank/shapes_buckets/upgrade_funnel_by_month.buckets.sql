-- The compiler's SQL with conversions paired by the window's bucket of days (metricsctl/compiler/conversions.py):
-- each conversion event numbered and paired by a hash join on (entity, bucket) with the base events of its
-- bucket and the one before, the latest base event within the window kept per conversion event, instead of
-- the ASOF JOIN of the conversion events to the base events.
WITH upgrades_read AS MATERIALIZED (
  SELECT
    src.upgraded_date,
    src.upgrade_id,
    src.customer_id
  FROM "warehouse"."main"."stg_upgrades" AS src
), upgrades_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.upgraded_date) AS metric_time__month,
    j_customer.segment AS customer__segment,
    COUNT(src.upgrade_id) AS upgrades
  FROM upgrades_read AS src
  LEFT JOIN "warehouse"."main"."stg_customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  GROUP BY
    DATE_TRUNC('MONTH', src.upgraded_date),
    j_customer.segment
), sessions_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.session_date) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.session_date) AS metric_time__month,
    j_customer.segment AS customer__segment,
    src.session_id AS __base_measure_0
  FROM "warehouse"."main"."stg_sessions" AS src
  LEFT JOIN "warehouse"."main"."stg_customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
), sessions_agg AS (
  SELECT
    sessions_base_events.metric_time__month,
    sessions_base_events.customer__segment,
    COUNT(sessions_base_events.__base_measure_0) AS sessions
  FROM sessions_base_events
  GROUP BY
    sessions_base_events.metric_time__month,
    sessions_base_events.customer__segment
), upgrades_conversion_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.upgraded_date) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.upgrade_id AS __value
  FROM upgrades_read AS src
), upgrades_converting AS (
  SELECT
    *
  FROM upgrades_conversion_events
  WHERE
    upgrades_conversion_events.__entity IN (
      SELECT
        sessions_base_events.__entity
      FROM sessions_base_events
    )
), upgrades_keyed AS (
  SELECT
    c.*,
    DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), c.__day) // 7 - s.__shift AS __bucket
  FROM (
    SELECT
      *,
      ROW_NUMBER() OVER () AS __conversion_id
    FROM upgrades_converting
  ) AS c
  CROSS JOIN (VALUES
    (0),
    (1)) AS s(__shift)
), upgrades_attributed AS (
  SELECT
    sessions_base_events.metric_time__month,
    sessions_base_events.customer__segment,
    upgrades_keyed.__value
  FROM upgrades_keyed
  INNER JOIN sessions_base_events
    ON sessions_base_events.__entity = upgrades_keyed.__entity
    AND DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), sessions_base_events.__day) // 7 = upgrades_keyed.__bucket
  WHERE
    sessions_base_events.__day <= upgrades_keyed.__day
    AND sessions_base_events.__day > upgrades_keyed.__day - INTERVAL '7' DAY
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY upgrades_keyed.__conversion_id
      ORDER BY sessions_base_events.__day DESC
    ) = 1
), upgrades_conversions AS (
  SELECT
    upgrades_attributed.metric_time__month,
    upgrades_attributed.customer__segment,
    COUNT(upgrades_attributed.__value) AS upgrades__2
  FROM upgrades_attributed
  GROUP BY
    upgrades_attributed.metric_time__month,
    upgrades_attributed.customer__segment
), combined AS (
  SELECT
    metric_time__month,
    customer__segment,
    MAX(sessions) AS sessions,
    MAX(upgrades) AS upgrades,
    MAX(upgrades__2) AS upgrades__2
  FROM (
    SELECT
      sessions_agg.metric_time__month,
      sessions_agg.customer__segment,
      sessions_agg.sessions,
      NULL AS upgrades,
      NULL AS upgrades__2
    FROM sessions_agg
    UNION ALL
    SELECT
      upgrades_agg.metric_time__month,
      upgrades_agg.customer__segment,
      NULL AS sessions,
      upgrades_agg.upgrades,
      NULL AS upgrades__2
    FROM upgrades_agg
    UNION ALL
    SELECT
      upgrades_conversions.metric_time__month,
      upgrades_conversions.customer__segment,
      NULL AS sessions,
      NULL AS upgrades,
      upgrades_conversions.upgrades__2
    FROM upgrades_conversions
  ) AS stacked
  GROUP BY
    metric_time__month,
    customer__segment
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.customer__segment AS customer__segment,
  combined.sessions AS sessions,
  combined.upgrades AS upgrades,
  combined.upgrades__2 AS upgrade_conversions,
  CAST(combined.upgrades__2 AS DOUBLE) / CAST(NULLIF(combined.sessions, 0) AS DOUBLE) AS upgrade_conversion_rate
FROM combined
ORDER BY
  metric_time__month ASC,
  customer__segment ASC
