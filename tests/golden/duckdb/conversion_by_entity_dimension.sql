WITH visits_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.visited_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.visited_at) AS metric_time__month,
    j_customer.region AS customer__region,
    src.visit_id AS __base_measure_0
  FROM "shop"."main"."visits" AS src
  LEFT JOIN "shop"."main"."customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
), visits_agg AS (
  SELECT
    visits_base_events.metric_time__month,
    visits_base_events.customer__region,
    COUNT(visits_base_events.__base_measure_0) AS visits
  FROM visits_base_events
  GROUP BY
    visits_base_events.metric_time__month,
    visits_base_events.customer__region
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
    visits_base_events.customer__region,
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
    orders_attributed.customer__region,
    COUNT(orders_attributed.__value) AS order_count
  FROM orders_attributed
  GROUP BY
    orders_attributed.metric_time__month,
    orders_attributed.customer__region
), combined AS (
  SELECT
    metric_time__month,
    customer__region,
    MAX(visits) AS visits,
    MAX(order_count) AS order_count
  FROM (
    SELECT
      visits_agg.metric_time__month,
      visits_agg.customer__region,
      visits_agg.visits,
      NULL AS order_count
    FROM visits_agg
    UNION ALL
    SELECT
      orders_conversions.metric_time__month,
      orders_conversions.customer__region,
      NULL AS visits,
      orders_conversions.order_count
    FROM orders_conversions
  ) AS stacked
  GROUP BY
    metric_time__month,
    customer__region
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.customer__region AS customer__region,
  CAST(combined.order_count AS DOUBLE) / CAST(NULLIF(combined.visits, 0) AS DOUBLE) AS visit_to_order_rate
FROM combined
