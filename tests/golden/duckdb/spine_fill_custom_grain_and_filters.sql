WITH orders_read AS MATERIALIZED (
  SELECT
    src.ordered_at,
    src.customer_id,
    src.is_promo
  FROM "shop"."main"."orders" AS src
), orders_agg AS (
  SELECT
    time_spine_1.fiscal_quarter AS metric_time__fiscal_quarter,
    EXTRACT(ISODOW FROM src.ordered_at) AS metric_time__extract_dow,
    SUM(CASE WHEN src.is_promo THEN 1 ELSE 0 END) AS promo_orders
  FROM orders_read AS src
  LEFT JOIN "shop"."main"."customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  LEFT JOIN "shop"."main"."metricflow_time_spine" AS time_spine_1
    ON time_spine_1.date_day = CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)
  WHERE
    (
      j_customer.region <> 'south'
    )
  GROUP BY
    time_spine_1.fiscal_quarter,
    EXTRACT(ISODOW FROM src.ordered_at)
), orders_spine AS (
  SELECT
    periods.metric_time__fiscal_quarter AS metric_time__fiscal_quarter,
    periods.metric_time__extract_dow AS metric_time__extract_dow,
    orders_agg.promo_orders AS promo_orders
  FROM (
    SELECT DISTINCT
      time_spine.fiscal_quarter AS metric_time__fiscal_quarter,
      EXTRACT(ISODOW FROM time_spine.date_day) AS metric_time__extract_dow
    FROM "shop"."main"."metricflow_time_spine" AS time_spine
  ) AS periods
  LEFT JOIN orders_agg
    ON periods.metric_time__fiscal_quarter = orders_agg.metric_time__fiscal_quarter
    AND periods.metric_time__extract_dow = orders_agg.metric_time__extract_dow
), orders_grouped AS (
  SELECT
    src.ordered_at AS ordered_at,
    src.customer_id AS customer_id,
    SUM(1) AS orders
  FROM orders_read AS src
  GROUP BY
    src.ordered_at,
    src.customer_id
), orders_agg_2 AS (
  SELECT
    time_spine_1.fiscal_quarter AS metric_time__fiscal_quarter,
    EXTRACT(ISODOW FROM src.ordered_at) AS metric_time__extract_dow,
    SUM(src.orders) AS orders
  FROM orders_grouped AS src
  LEFT JOIN "shop"."main"."customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  LEFT JOIN "shop"."main"."metricflow_time_spine" AS time_spine_1
    ON time_spine_1.date_day = CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)
  WHERE
    (
      j_customer.region <> 'south'
    )
  GROUP BY
    time_spine_1.fiscal_quarter,
    EXTRACT(ISODOW FROM src.ordered_at)
), combined AS (
  SELECT
    metric_time__fiscal_quarter,
    metric_time__extract_dow,
    MAX(promo_orders) AS promo_orders,
    MAX(orders) AS orders
  FROM (
    SELECT
      orders_spine.metric_time__fiscal_quarter,
      orders_spine.metric_time__extract_dow,
      orders_spine.promo_orders,
      NULL AS orders
    FROM orders_spine
    UNION ALL
    SELECT
      orders_agg_2.metric_time__fiscal_quarter,
      orders_agg_2.metric_time__extract_dow,
      NULL AS promo_orders,
      orders_agg_2.orders
    FROM orders_agg_2
  ) AS stacked
  GROUP BY
    metric_time__fiscal_quarter,
    metric_time__extract_dow
)
SELECT
  combined.metric_time__fiscal_quarter AS metric_time__fiscal_quarter,
  combined.metric_time__extract_dow AS metric_time__extract_dow,
  COALESCE(combined.promo_orders, 0) AS promo_orders_filled,
  combined.orders AS orders
FROM combined
ORDER BY
  orders DESC
LIMIT 10
