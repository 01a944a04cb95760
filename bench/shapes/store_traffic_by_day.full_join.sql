-- Shape: the scans combined by a chain of FULL OUTER JOINs (MetricFlow's way, null-safe conditions kept),
-- for comparison with store_traffic_by_day.stack.sql.
WITH store_traffic_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.traffic_date) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.footfall) AS footfall
  FROM stg_store_traffic AS src
  LEFT JOIN stg_stores AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.traffic_date),
    j_store.store_name
), orders_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.ordered_at) AS metric_time__day,
    j_store.store_name AS store__store_name,
    COUNT(src.order_id) AS orders
  FROM stg_orders AS src
  LEFT JOIN stg_stores AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.ordered_at),
    j_store.store_name
), order_lines_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.ordered_at) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.quantity * src.net_unit_price) AS revenue
  FROM stg_order_lines AS src
  LEFT JOIN stg_stores AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.ordered_at),
    j_store.store_name
)
SELECT
  COALESCE(store_traffic_agg.metric_time__day, orders_agg.metric_time__day, order_lines_agg.metric_time__day) AS metric_time__day,
  COALESCE(store_traffic_agg.store__store_name, orders_agg.store__store_name, order_lines_agg.store__store_name) AS store__store_name,
  store_traffic_agg.footfall AS store_footfall,
  orders_agg.orders AS orders,
  CAST(orders_agg.orders AS DOUBLE) / CAST(NULLIF(store_traffic_agg.footfall, 0) AS DOUBLE) AS store_conversion_rate,
  order_lines_agg.revenue AS revenue,
  CAST(order_lines_agg.revenue AS DOUBLE) / CAST(NULLIF(store_traffic_agg.footfall, 0) AS DOUBLE) AS revenue_per_visitor
FROM store_traffic_agg
FULL OUTER JOIN orders_agg
  ON store_traffic_agg.metric_time__day IS NOT DISTINCT FROM orders_agg.metric_time__day
  AND store_traffic_agg.store__store_name IS NOT DISTINCT FROM orders_agg.store__store_name
FULL OUTER JOIN order_lines_agg
  ON COALESCE(store_traffic_agg.metric_time__day, orders_agg.metric_time__day) IS NOT DISTINCT FROM order_lines_agg.metric_time__day
  AND COALESCE(store_traffic_agg.store__store_name, orders_agg.store__store_name) IS NOT DISTINCT FROM order_lines_agg.store__store_name
ORDER BY
  metric_time__day ASC,
  store__store_name ASC
