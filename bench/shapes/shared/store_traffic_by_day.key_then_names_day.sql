-- Shape: store_traffic_by_day.key_then_names, grouped on the day-grain DATE columns as they are (no
-- DATE_TRUNC('DAY', ...) per row); metric_time__day cast to TIMESTAMP once per group of the last step.
WITH store_traffic_agg AS (
  SELECT
    src.traffic_date AS metric_time__day,
    src.store_id AS store_id,
    SUM(src.footfall) AS footfall
  FROM "warehouse"."main"."stg_store_traffic" AS src
  GROUP BY
    src.traffic_date,
    src.store_id
), orders_agg AS (
  SELECT
    src.ordered_at AS metric_time__day,
    src.store_id AS store_id,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  GROUP BY
    src.ordered_at,
    src.store_id
), order_lines_agg AS (
  SELECT
    src.ordered_at AS metric_time__day,
    src.store_id AS store_id,
    SUM(src.quantity * src.net_unit_price) AS revenue
  FROM "warehouse"."main"."stg_order_lines" AS src
  GROUP BY
    src.ordered_at,
    src.store_id
), combined_by_key AS (
  SELECT
    metric_time__day,
    store_id,
    MAX(footfall) AS footfall,
    MAX(orders) AS orders,
    MAX(revenue) AS revenue
  FROM (
    SELECT metric_time__day, store_id, footfall, NULL AS orders, NULL AS revenue FROM store_traffic_agg
    UNION ALL
    SELECT metric_time__day, store_id, NULL AS footfall, orders, NULL AS revenue FROM orders_agg
    UNION ALL
    SELECT metric_time__day, store_id, NULL AS footfall, NULL AS orders, revenue FROM order_lines_agg
  ) AS stacked
  GROUP BY
    metric_time__day,
    store_id
), combined AS (
  SELECT
    CAST(src.metric_time__day AS TIMESTAMP) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.footfall) AS footfall,
    CAST(SUM(src.orders) AS BIGINT) AS orders,
    SUM(src.revenue) AS revenue
  FROM combined_by_key AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    src.metric_time__day,
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
