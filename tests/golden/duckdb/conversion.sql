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
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM orders_read AS src
), orders_converting AS (
  SELECT
    *
  FROM orders_conversion_events
  WHERE
    orders_conversion_events.__entity IN (
      SELECT
        visits_base_events.__entity
      FROM visits_base_events
    )
), orders_keyed AS (
  SELECT
    c.*,
    DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), c.__day) // 7 - s.__shift AS __bucket
  FROM (
    SELECT
      *,
      ROW_NUMBER() OVER () AS __conversion_id
    FROM orders_converting
  ) AS c
  CROSS JOIN (VALUES
    (0),
    (1)) AS s(__shift)
), orders_attributed AS (
  SELECT
    visits_base_events.metric_time__month,
    orders_keyed.__value
  FROM orders_keyed
  INNER JOIN visits_base_events
    ON visits_base_events.__entity = orders_keyed.__entity
    AND DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), visits_base_events.__day) // 7 = orders_keyed.__bucket
  WHERE
    visits_base_events.__day <= orders_keyed.__day
    AND visits_base_events.__day > orders_keyed.__day - INTERVAL '7' DAY
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY orders_keyed.__conversion_id ORDER BY visits_base_events.__day DESC) = 1
), orders_conversions AS (
  SELECT
    orders_attributed.metric_time__month,
    COUNT(orders_attributed.__value) AS order_count
  FROM orders_attributed
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
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value,
    src.channel AS __property_0
  FROM orders_read AS src
), orders_converting_2 AS (
  SELECT
    *
  FROM orders_conversion_events_2
  WHERE
    orders_conversion_events_2.__entity IN (
      SELECT
        visits_base_events_2.__entity
      FROM visits_base_events_2
    )
), orders_attributed_2 AS (
  SELECT
    visits_base_events_2.metric_time__month,
    orders_converting_2.__value
  FROM orders_converting_2
  ASOF JOIN visits_base_events_2
    ON visits_base_events_2.__entity = orders_converting_2.__entity
    AND visits_base_events_2.__day <= orders_converting_2.__day
    AND visits_base_events_2.__property_0 = orders_converting_2.__property_0
), orders_conversions_2 AS (
  SELECT
    orders_attributed_2.metric_time__month,
    COUNT(orders_attributed_2.__value) AS order_count__2
  FROM orders_attributed_2
  GROUP BY
    orders_attributed_2.metric_time__month
), combined AS (
  SELECT
    metric_time__month,
    MAX(visits) AS visits,
    MAX(order_count) AS order_count,
    MAX(order_count__2) AS order_count__2
  FROM (
    SELECT
      visits_agg.metric_time__month,
      visits_agg.visits,
      NULL AS order_count,
      NULL AS order_count__2
    FROM visits_agg
    UNION ALL
    SELECT
      orders_conversions.metric_time__month,
      NULL AS visits,
      orders_conversions.order_count,
      NULL AS order_count__2
    FROM orders_conversions
    UNION ALL
    SELECT
      orders_conversions_2.metric_time__month,
      NULL AS visits,
      NULL AS order_count,
      orders_conversions_2.order_count__2
    FROM orders_conversions_2
  ) AS stacked
  GROUP BY
    metric_time__month
)
SELECT
  combined.metric_time__month AS metric_time__month,
  CAST(combined.order_count AS DOUBLE) / CAST(NULLIF(combined.visits, 0) AS DOUBLE) AS visit_to_order_rate,
  CAST(combined.order_count__2 AS DOUBLE) / CAST(NULLIF(combined.visits, 0) AS DOUBLE) AS same_channel_conversion_rate
FROM combined
