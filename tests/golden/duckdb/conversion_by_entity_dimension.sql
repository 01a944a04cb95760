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
), orders_attributed AS (
  SELECT
    visits_base_events.metric_time__month,
    visits_base_events.customer__region,
    orders_converting.__value
  FROM orders_converting
  ASOF JOIN visits_base_events
    ON visits_base_events.__entity = orders_converting.__entity
    AND visits_base_events.__day <= orders_converting.__day
  WHERE
    visits_base_events.__day > orders_converting.__day - INTERVAL '7' DAY
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
