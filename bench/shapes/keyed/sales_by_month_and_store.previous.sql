-- Shape: the SQL before stacking on keys (main at bec686d): each scan joins the names and groups by them, the scans stacked by name.
WITH order_lines_grouped AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS __time_1,
    src.store_id AS store_id,
    SUM(src.quantity * src.net_unit_price) AS revenue,
    SUM(src.quantity * src.unit_cost) AS cost_of_goods
  FROM "warehouse"."main"."stg_order_lines" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    src.store_id
), order_lines_agg AS (
  SELECT
    src.__time_1 AS metric_time__month,
    j_store.store_name AS store__store_name,
    SUM(src.revenue) AS revenue,
    SUM(src.cost_of_goods) AS cost_of_goods
  FROM order_lines_grouped AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    src.__time_1,
    j_store.store_name
), orders_grouped AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS __time_1,
    src.store_id AS store_id,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    src.store_id
), orders_agg AS (
  SELECT
    src.__time_1 AS metric_time__month,
    j_store.store_name AS store__store_name,
    CAST(SUM(src.orders) AS BIGINT) AS orders
  FROM orders_grouped AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    src.__time_1,
    j_store.store_name
), combined AS (
  SELECT
    metric_time__month,
    store__store_name,
    MAX(revenue) AS revenue,
    MAX(cost_of_goods) AS cost_of_goods,
    MAX(orders) AS orders
  FROM (
    SELECT
      order_lines_agg.metric_time__month,
      order_lines_agg.store__store_name,
      order_lines_agg.revenue,
      order_lines_agg.cost_of_goods,
      NULL AS orders
    FROM order_lines_agg
    UNION ALL
    SELECT
      orders_agg.metric_time__month,
      orders_agg.store__store_name,
      NULL AS revenue,
      NULL AS cost_of_goods,
      orders_agg.orders
    FROM orders_agg
  ) AS stacked
  GROUP BY
    metric_time__month,
    store__store_name
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.store__store_name AS store__store_name,
  combined.revenue AS revenue,
  combined.orders AS orders,
  CAST(combined.revenue AS DOUBLE) / CAST(NULLIF(combined.orders, 0) AS DOUBLE) AS average_order_value,
  (
    CAST(100 * (
      (
        (
          combined.revenue
        ) - (
          combined.cost_of_goods
        )
      )
    ) AS DOUBLE) / NULLIF((
      combined.revenue
    ), 0)
  ) AS gross_margin_pct
FROM combined
ORDER BY
  metric_time__month ASC,
  store__store_name ASC
