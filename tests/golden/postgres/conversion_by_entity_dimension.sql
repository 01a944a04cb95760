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
    ROW_NUMBER() OVER (ORDER BY CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)) AS __conversion_id,
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM "shop"."main"."orders" AS src
), orders_attributed AS (
  SELECT
    visits_base_events.metric_time__month,
    visits_base_events.customer__region,
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
    orders_attributed.customer__region,
    COUNT(orders_attributed.__value) AS order_count
  FROM orders_attributed
  WHERE
    orders_attributed.__attribution_rank = 1
  GROUP BY
    orders_attributed.metric_time__month,
    orders_attributed.customer__region
), group_keys AS (
  SELECT
    metric_time__month,
    customer__region
  FROM visits_agg
  UNION
  SELECT
    metric_time__month,
    customer__region
  FROM orders_conversions
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  group_keys.customer__region AS customer__region,
  CAST(orders_conversions.order_count AS DOUBLE PRECISION) / CAST(NULLIF(visits_agg.visits, 0) AS DOUBLE PRECISION) AS visit_to_order_rate
FROM group_keys
LEFT JOIN visits_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM visits_agg.metric_time__month
  AND group_keys.customer__region IS NOT DISTINCT FROM visits_agg.customer__region
LEFT JOIN orders_conversions
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_conversions.metric_time__month
  AND group_keys.customer__region IS NOT DISTINCT FROM orders_conversions.customer__region
