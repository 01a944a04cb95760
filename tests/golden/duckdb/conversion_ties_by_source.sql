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
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM "shop"."main"."orders" AS src
), orders_converting AS (
  SELECT
    *
  FROM orders_conversion_events
  WHERE
    orders_conversion_events.__entity IN (
      SELECT
        visits_base_events_first.__entity
      FROM visits_base_events_first
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
    visits_base_events_first.metric_time__month,
    visits_base_events_first.visit__source,
    orders_keyed.__value
  FROM orders_keyed
  INNER JOIN visits_base_events_first
    ON visits_base_events_first.__entity = orders_keyed.__entity
    AND DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), visits_base_events_first.__day) // 7 = orders_keyed.__bucket
  WHERE
    visits_base_events_first.__day <= orders_keyed.__day
    AND visits_base_events_first.__day > orders_keyed.__day - INTERVAL '7' DAY
  QUALIFY
    ROW_NUMBER() OVER (
      PARTITION BY orders_keyed.__conversion_id
      ORDER BY visits_base_events_first.__day DESC
    ) = 1
), orders_conversions AS (
  SELECT
    orders_attributed.metric_time__month,
    orders_attributed.visit__source,
    COUNT(orders_attributed.__value) AS order_count
  FROM orders_attributed
  GROUP BY
    orders_attributed.metric_time__month,
    orders_attributed.visit__source
), combined AS (
  SELECT
    metric_time__month,
    visit__source,
    MAX(visits) AS visits,
    MAX(order_count) AS order_count
  FROM (
    SELECT
      visits_agg.metric_time__month,
      visits_agg.visit__source,
      visits_agg.visits,
      NULL AS order_count
    FROM visits_agg
    UNION ALL
    SELECT
      orders_conversions.metric_time__month,
      orders_conversions.visit__source,
      NULL AS visits,
      orders_conversions.order_count
    FROM orders_conversions
  ) AS stacked
  GROUP BY
    metric_time__month,
    visit__source
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.visit__source AS visit__source,
  CAST(combined.order_count AS DOUBLE) / CAST(NULLIF(combined.visits, 0) AS DOUBLE) AS visit_to_order_rate
FROM combined
