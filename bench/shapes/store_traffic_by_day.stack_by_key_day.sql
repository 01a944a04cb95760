-- Shape: store_traffic_by_day.stack_by_key, grouping on the day-grain DATE columns themselves
-- (no DATE_TRUNC('DAY', ...) per raw row); metric_time__day becomes a TIMESTAMP once, per output row.
WITH store_traffic_agg AS (
  SELECT
    src.traffic_date AS metric_time__day,
    src.store_id AS __key_store,
    SUM(src.footfall) AS footfall
  FROM stg_store_traffic AS src
  GROUP BY
    src.traffic_date,
    src.store_id
), orders_agg AS (
  SELECT
    src.ordered_at AS metric_time__day,
    src.store_id AS __key_store,
    COUNT(src.order_id) AS orders
  FROM stg_orders AS src
  GROUP BY
    src.ordered_at,
    src.store_id
), order_lines_agg AS (
  SELECT
    src.ordered_at AS metric_time__day,
    src.store_id AS __key_store,
    SUM(src.quantity * src.net_unit_price) AS revenue
  FROM stg_order_lines AS src
  GROUP BY
    src.ordered_at,
    src.store_id
), stacked AS (
  SELECT metric_time__day, __key_store, footfall, NULL AS orders, NULL AS revenue
  FROM store_traffic_agg
  UNION ALL
  SELECT metric_time__day, __key_store, NULL, orders, NULL
  FROM orders_agg
  UNION ALL
  SELECT metric_time__day, __key_store, NULL, NULL, revenue
  FROM order_lines_agg
), combined AS (
  SELECT
    CAST(stacked.metric_time__day AS TIMESTAMP) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(stacked.footfall) AS footfall,
    SUM(stacked.orders) AS orders,
    SUM(stacked.revenue) AS revenue
  FROM stacked
  LEFT JOIN stg_stores AS j_store
    ON stacked.__key_store = j_store.store_id
  GROUP BY
    CAST(stacked.metric_time__day AS TIMESTAMP),
    j_store.store_name
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
