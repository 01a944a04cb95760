-- Shape: sales_by_month_and_store as compiled before stacking and grouping first (8bf73d2)
WITH order_lines_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    j_store.store_name AS store__store_name,
    SUM(src.quantity * src.net_unit_price) AS revenue,
    SUM(src.quantity * src.unit_cost) AS cost_of_goods
  FROM "warehouse"."main"."stg_order_lines" AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    j_store.store_name
), orders_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    j_store.store_name AS store__store_name,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    j_store.store_name
), group_keys AS (
  SELECT
    metric_time__month,
    store__store_name
  FROM order_lines_agg
  UNION
  SELECT
    metric_time__month,
    store__store_name
  FROM orders_agg
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  group_keys.store__store_name AS store__store_name,
  order_lines_agg.revenue AS revenue,
  orders_agg.orders AS orders,
  CAST(order_lines_agg.revenue AS DOUBLE) / CAST(NULLIF(orders_agg.orders, 0) AS DOUBLE) AS average_order_value,
  (
    CAST(100 * (
      (
        (
          order_lines_agg.revenue
        ) - (
          order_lines_agg.cost_of_goods
        )
      )
    ) AS DOUBLE) / NULLIF((
      order_lines_agg.revenue
    ), 0)
  ) AS gross_margin_pct
FROM group_keys
LEFT JOIN order_lines_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM order_lines_agg.metric_time__month
  AND group_keys.store__store_name IS NOT DISTINCT FROM order_lines_agg.store__store_name
LEFT JOIN orders_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_agg.metric_time__month
  AND group_keys.store__store_name IS NOT DISTINCT FROM orders_agg.store__store_name
ORDER BY
  metric_time__month ASC,
  store__store_name ASC