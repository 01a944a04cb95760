-- Shape: store_traffic_by_day as compiled before stacking and grouping first (8bf73d2)
WITH store_traffic_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.traffic_date) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.footfall) AS footfall
  FROM "warehouse"."main"."stg_store_traffic" AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.traffic_date),
    j_store.store_name
), orders_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.ordered_at) AS metric_time__day,
    j_store.store_name AS store__store_name,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.ordered_at),
    j_store.store_name
), order_lines_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.ordered_at) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.quantity * src.net_unit_price) AS revenue
  FROM "warehouse"."main"."stg_order_lines" AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.ordered_at),
    j_store.store_name
), group_keys AS (
  SELECT
    metric_time__day,
    store__store_name
  FROM store_traffic_agg
  UNION
  SELECT
    metric_time__day,
    store__store_name
  FROM orders_agg
  UNION
  SELECT
    metric_time__day,
    store__store_name
  FROM order_lines_agg
)
SELECT
  group_keys.metric_time__day AS metric_time__day,
  group_keys.store__store_name AS store__store_name,
  store_traffic_agg.footfall AS store_footfall,
  orders_agg.orders AS orders,
  CAST(orders_agg.orders AS DOUBLE) / CAST(NULLIF(store_traffic_agg.footfall, 0) AS DOUBLE) AS store_conversion_rate,
  order_lines_agg.revenue AS revenue,
  CAST(order_lines_agg.revenue AS DOUBLE) / CAST(NULLIF(store_traffic_agg.footfall, 0) AS DOUBLE) AS revenue_per_visitor
FROM group_keys
LEFT JOIN store_traffic_agg
  ON group_keys.metric_time__day IS NOT DISTINCT FROM store_traffic_agg.metric_time__day
  AND group_keys.store__store_name IS NOT DISTINCT FROM store_traffic_agg.store__store_name
LEFT JOIN orders_agg
  ON group_keys.metric_time__day IS NOT DISTINCT FROM orders_agg.metric_time__day
  AND group_keys.store__store_name IS NOT DISTINCT FROM orders_agg.store__store_name
LEFT JOIN order_lines_agg
  ON group_keys.metric_time__day IS NOT DISTINCT FROM order_lines_agg.metric_time__day
  AND group_keys.store__store_name IS NOT DISTINCT FROM order_lines_agg.store__store_name
ORDER BY
  metric_time__day ASC,
  store__store_name ASC