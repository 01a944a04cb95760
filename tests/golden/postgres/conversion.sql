WITH visits_read AS MATERIALIZED (
  SELECT
    src.customer_id,
    src.visit_id,
    src.visited_at,
    src.source
  FROM "shop"."main"."visits" AS src
), visits_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.visited_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.visited_at) AS metric_time__month,
    src.visit_id AS __base_measure_0
  FROM visits_read AS src
), visits_agg AS (
  SELECT
    visits_base_events.metric_time__month,
    COUNT(visits_base_events.__base_measure_0) AS visits
  FROM visits_base_events
  GROUP BY
    visits_base_events.metric_time__month
), orders_read AS MATERIALIZED (
  SELECT
    src.customer_id,
    src.order_id,
    src.ordered_at,
    src.channel
  FROM "shop"."main"."orders" AS src
), orders_conversion_events AS (
  SELECT
    ROW_NUMBER() OVER (ORDER BY CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)) AS __conversion_id,
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM orders_read AS src
), orders_attributed AS (
  SELECT
    visits_base_events.metric_time__month,
    orders_conversion_events.__value,
    ROW_NUMBER() OVER (
      PARTITION BY orders_conversion_events.__conversion_id
      ORDER BY visits_base_events.__day DESC NULLS LAST
    ) AS __attribution_rank
  FROM orders_conversion_events
  INNER JOIN visits_base_events
    ON visits_base_events.__entity = orders_conversion_events.__entity
    AND visits_base_events.__day <= orders_conversion_events.__day
    AND visits_base_events.__day > orders_conversion_events.__day - INTERVAL '7 DAY'
), orders_conversions AS (
  SELECT
    orders_attributed.metric_time__month,
    COUNT(orders_attributed.__value) AS order_count
  FROM orders_attributed
  WHERE
    orders_attributed.__attribution_rank = 1
  GROUP BY
    orders_attributed.metric_time__month
), visits_base_events_2 AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.visited_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.visited_at) AS metric_time__month,
    src.source AS __property_0
  FROM visits_read AS src
), orders_conversion_events_2 AS (
  SELECT
    ROW_NUMBER() OVER (ORDER BY CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)) AS __conversion_id,
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value,
    src.channel AS __property_0
  FROM orders_read AS src
), orders_attributed_2 AS (
  SELECT
    visits_base_events_2.metric_time__month,
    orders_conversion_events_2.__value,
    ROW_NUMBER() OVER (
      PARTITION BY orders_conversion_events_2.__conversion_id
      ORDER BY visits_base_events_2.__day DESC NULLS LAST
    ) AS __attribution_rank
  FROM orders_conversion_events_2
  INNER JOIN visits_base_events_2
    ON visits_base_events_2.__entity = orders_conversion_events_2.__entity
    AND visits_base_events_2.__day <= orders_conversion_events_2.__day
    AND visits_base_events_2.__property_0 = orders_conversion_events_2.__property_0
), orders_conversions_2 AS (
  SELECT
    orders_attributed_2.metric_time__month,
    COUNT(orders_attributed_2.__value) AS order_count__2
  FROM orders_attributed_2
  WHERE
    orders_attributed_2.__attribution_rank = 1
  GROUP BY
    orders_attributed_2.metric_time__month
), group_keys AS (
  SELECT
    metric_time__month
  FROM visits_agg
  UNION
  SELECT
    metric_time__month
  FROM orders_conversions
  UNION
  SELECT
    metric_time__month
  FROM orders_conversions_2
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  CAST(orders_conversions.order_count AS DOUBLE PRECISION) / CAST(NULLIF(visits_agg.visits, 0) AS DOUBLE PRECISION) AS visit_to_order_rate,
  CAST(orders_conversions_2.order_count__2 AS DOUBLE PRECISION) / CAST(NULLIF(visits_agg.visits, 0) AS DOUBLE PRECISION) AS same_channel_conversion_rate
FROM group_keys
LEFT JOIN visits_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM visits_agg.metric_time__month
LEFT JOIN orders_conversions
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_conversions.metric_time__month
LEFT JOIN orders_conversions_2
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_conversions_2.metric_time__month
