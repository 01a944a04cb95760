-- Shape: the SQL before stacking on keys (main at bec686d): each scan joins the names and groups by them, the scans stacked by name.
WITH store_traffic_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.traffic_date) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.footfall) AS footfall
  FROM "warehouse"."main"."stg_store_traffic" AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  WHERE
    src.traffic_date >= CAST('1900-01-01' AS DATE)
  GROUP BY
    DATE_TRUNC('DAY', src.traffic_date),
    j_store.store_name
), orders_grouped AS (
  SELECT
    DATE_TRUNC('DAY', src.ordered_at) AS __time_1,
    src.store_id AS store_id,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    DATE_TRUNC('DAY', src.ordered_at),
    src.store_id
), orders_agg AS (
  SELECT
    src.__time_1 AS metric_time__day,
    j_store.store_name AS store__store_name,
    CAST(SUM(src.orders) AS BIGINT) AS orders
  FROM orders_grouped AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    src.__time_1,
    j_store.store_name
), order_lines_grouped AS (
  SELECT
    DATE_TRUNC('DAY', src.ordered_at) AS __time_1,
    src.store_id AS store_id,
    SUM(src.quantity * src.net_unit_price) AS revenue
  FROM "warehouse"."main"."stg_order_lines" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    DATE_TRUNC('DAY', src.ordered_at),
    src.store_id
), order_lines_agg AS (
  SELECT
    src.__time_1 AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.revenue) AS revenue
  FROM order_lines_grouped AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    src.__time_1,
    j_store.store_name
), combined AS (
  SELECT
    metric_time__day,
    store__store_name,
    MAX(footfall) AS footfall,
    MAX(orders) AS orders,
    MAX(revenue) AS revenue
  FROM (
    SELECT
      store_traffic_agg.metric_time__day,
      store_traffic_agg.store__store_name,
      store_traffic_agg.footfall,
      NULL AS orders,
      NULL AS revenue
    FROM store_traffic_agg
    UNION ALL
    SELECT
      orders_agg.metric_time__day,
      orders_agg.store__store_name,
      NULL AS footfall,
      orders_agg.orders,
      NULL AS revenue
    FROM orders_agg
    UNION ALL
    SELECT
      order_lines_agg.metric_time__day,
      order_lines_agg.store__store_name,
      NULL AS footfall,
      NULL AS orders,
      order_lines_agg.revenue
    FROM order_lines_agg
  ) AS stacked
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
