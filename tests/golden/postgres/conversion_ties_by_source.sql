WITH visits_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.visited_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.visited_at) AS metric_time__month,
    src.source AS visit__source,
    src.visit_id AS __base_measure_0
  FROM "shop"."main"."visits" AS src
), visits_agg AS (
  SELECT
    visits_base_events.metric_time__month,
    visits_base_events.visit__source,
    COUNT(visits_base_events.__base_measure_0) AS visits
  FROM visits_base_events
  GROUP BY
    visits_base_events.metric_time__month,
    visits_base_events.visit__source
), visits_base_events_ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY visits_base_events.__day, visits_base_events.__entity
      ORDER BY visits_base_events.visit__source
    ) AS __tie_rank
  FROM visits_base_events
), visits_base_events_first AS (
  SELECT
    visits_base_events_ranked.__day,
    visits_base_events_ranked.__entity,
    visits_base_events_ranked.metric_time__month,
    visits_base_events_ranked.visit__source
  FROM visits_base_events_ranked
  WHERE
    visits_base_events_ranked.__tie_rank = 1
), orders_conversion_events AS (
  SELECT
    ROW_NUMBER() OVER (ORDER BY CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)) AS __conversion_id,
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM "shop"."main"."orders" AS src
), orders_attributed AS (
  SELECT
    visits_base_events_first.metric_time__month,
    visits_base_events_first.visit__source,
    orders_conversion_events.__value,
    ROW_NUMBER() OVER (
      PARTITION BY orders_conversion_events.__conversion_id
      ORDER BY visits_base_events_first.__day DESC NULLS LAST
    ) AS __attribution_rank
  FROM orders_conversion_events
  INNER JOIN visits_base_events_first
    ON visits_base_events_first.__entity = orders_conversion_events.__entity
    AND visits_base_events_first.__day <= orders_conversion_events.__day
    AND visits_base_events_first.__day > orders_conversion_events.__day - INTERVAL '7 DAY'
), orders_conversions AS (
  SELECT
    orders_attributed.metric_time__month,
    orders_attributed.visit__source,
    COUNT(orders_attributed.__value) AS order_count
  FROM orders_attributed
  WHERE
    orders_attributed.__attribution_rank = 1
  GROUP BY
    orders_attributed.metric_time__month,
    orders_attributed.visit__source
), group_keys AS (
  SELECT
    metric_time__month,
    visit__source
  FROM visits_agg
  UNION
  SELECT
    metric_time__month,
    visit__source
  FROM orders_conversions
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  group_keys.visit__source AS visit__source,
  CAST(orders_conversions.order_count AS DOUBLE PRECISION) / CAST(NULLIF(visits_agg.visits, 0) AS DOUBLE PRECISION) AS visit_to_order_rate
FROM group_keys
LEFT JOIN visits_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM visits_agg.metric_time__month
  AND group_keys.visit__source IS NOT DISTINCT FROM visits_agg.visit__source
LEFT JOIN orders_conversions
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_conversions.metric_time__month
  AND group_keys.visit__source IS NOT DISTINCT FROM orders_conversions.visit__source
