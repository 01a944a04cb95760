-- Shape: the compiler's SQL (60ffdc4) with store traffic grouped on (day, store_id) before it is stacked, as the orders are.
WITH orders_grouped AS (
  SELECT
    src.ordered_at AS ordered_at,
    src.store_id AS store_id,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    src.ordered_at,
    src.store_id
), order_lines_grouped AS (
  SELECT
    src.ordered_at AS ordered_at,
    src.store_id AS store_id,
    SUM(src.quantity * src.net_unit_price) AS revenue
  FROM "warehouse"."main"."stg_order_lines" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    src.ordered_at,
    src.store_id
), store_traffic_rows AS (
  SELECT
    src.traffic_date AS traffic_date,
    src.store_id AS store_id,
    SUM(src.footfall) AS footfall
  FROM "warehouse"."main"."stg_store_traffic" AS src
  WHERE
    src.traffic_date >= CAST('1900-01-01' AS DATE)
  GROUP BY
    src.traffic_date,
    src.store_id
), stacked_by_key AS (
  SELECT
    traffic_date AS __key_1,
    store_id,
    footfall,
    NULL AS orders,
    NULL AS revenue
  FROM store_traffic_rows
  UNION ALL
  SELECT
    ordered_at AS __key_1,
    store_id,
    NULL AS footfall,
    orders,
    NULL AS revenue
  FROM orders_grouped
  UNION ALL
  SELECT
    ordered_at AS __key_1,
    store_id,
    NULL AS footfall,
    NULL AS orders,
    revenue
  FROM order_lines_grouped
), combined_by_key AS (
  SELECT
    DATE_TRUNC('DAY', src.__key_1) AS metric_time__day,
    j_store.store_name AS store__store_name,
    SUM(src.footfall) AS footfall,
    CAST(SUM(src.orders) AS BIGINT) AS orders,
    SUM(src.revenue) AS revenue
  FROM stacked_by_key AS src
  LEFT JOIN "warehouse"."main"."stg_stores" AS j_store
    ON src.store_id = j_store.store_id
  GROUP BY
    DATE_TRUNC('DAY', src.__key_1),
    j_store.store_name
)
SELECT
  combined_by_key.metric_time__day AS metric_time__day,
  combined_by_key.store__store_name AS store__store_name,
  combined_by_key.footfall AS store_footfall,
  combined_by_key.orders AS orders,
  CAST(combined_by_key.orders AS DOUBLE) / CAST(NULLIF(combined_by_key.footfall, 0) AS DOUBLE) AS store_conversion_rate,
  combined_by_key.revenue AS revenue,
  CAST(combined_by_key.revenue AS DOUBLE) / CAST(NULLIF(combined_by_key.footfall, 0) AS DOUBLE) AS revenue_per_visitor
FROM combined_by_key
ORDER BY
  metric_time__day ASC,
  store__store_name ASC
