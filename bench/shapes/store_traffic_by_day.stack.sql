-- Shape: the scans combined by stacking, not joining. Each scan's rows go into one UNION ALL (its own
-- metric columns, NULL for the others) and one GROUP BY on the group-by items takes each column's only
-- value (MAX). Replaces group_keys (a UNION DISTINCT of every scan's keys) and one LEFT JOIN per scan on
-- IS NOT DISTINCT FROM conditions; NULL keys still meet NULL keys, as GROUP BY treats them as equal.
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
), stacked AS (
  SELECT metric_time__day, store__store_name, footfall, NULL AS orders, NULL AS revenue
  FROM store_traffic_agg
  UNION ALL
  SELECT metric_time__day, store__store_name, NULL, orders, NULL
  FROM orders_agg
  UNION ALL
  SELECT metric_time__day, store__store_name, NULL, NULL, revenue
  FROM order_lines_agg
), combined AS (
  SELECT
    metric_time__day,
    store__store_name,
    MAX(footfall) AS footfall,
    MAX(orders) AS orders,
    MAX(revenue) AS revenue
  FROM stacked
  GROUP BY
    metric_time__day,
    store__store_name
)
SELECT
  combined.metric_time__day AS metric_time__day,
  combined.store__store_name AS store__store_name,
  combined.footfall AS store_footfall,
  combined.orders AS orders,
  CAST(combined.orders AS DOUBLE) / CAST(NULLIF(combined.footfall, 0) AS DOUBLE) AS store_conversion_rate,
  combined.revenue AS revenue,
  CAST(combined.revenue AS DOUBLE) / CAST(NULLIF(combined.footfall, 0) AS DOUBLE) AS revenue_per_visitor
FROM combined
ORDER BY
  metric_time__day ASC,
  store__store_name ASC
