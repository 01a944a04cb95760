WITH order_lines_agg AS (
  SELECT
    DATE_TRUNC(src.ordered_at, QUARTER) AS metric_time__quarter,
    j_order.channel AS order__channel,
    SUM(src.quantity * src.unit_price) AS revenue
  FROM `shop`.`main`.`order_lines` AS src
  LEFT JOIN `shop`.`main`.`orders` AS j_order
    ON src.order_id = j_order.order_id
  GROUP BY
    DATE_TRUNC(src.ordered_at, QUARTER),
    j_order.channel
), orders_agg AS (
  SELECT
    DATE_TRUNC(src.ordered_at, QUARTER) AS metric_time__quarter,
    src.channel AS order__channel,
    SUM(1) AS orders,
    SUM(CASE WHEN src.channel = 'online' THEN 1 END) AS orders__2
  FROM `shop`.`main`.`orders` AS src
  GROUP BY
    DATE_TRUNC(src.ordered_at, QUARTER),
    src.channel
), group_keys AS (
  SELECT
    metric_time__quarter,
    order__channel
  FROM order_lines_agg
  UNION DISTINCT
  SELECT
    metric_time__quarter,
    order__channel
  FROM orders_agg
)
SELECT
  group_keys.metric_time__quarter AS metric_time__quarter,
  group_keys.order__channel AS order__channel,
  CAST(order_lines_agg.revenue AS FLOAT64) / CAST(NULLIF(orders_agg.orders, 0) AS FLOAT64) AS revenue_per_order,
  CAST(orders_agg.orders__2 AS FLOAT64) / CAST(NULLIF(orders_agg.orders, 0) AS FLOAT64) AS online_order_share
FROM group_keys
LEFT JOIN order_lines_agg
  ON group_keys.metric_time__quarter IS NOT DISTINCT FROM order_lines_agg.metric_time__quarter
  AND group_keys.order__channel IS NOT DISTINCT FROM order_lines_agg.order__channel
LEFT JOIN orders_agg
  ON group_keys.metric_time__quarter IS NOT DISTINCT FROM orders_agg.metric_time__quarter
  AND group_keys.order__channel IS NOT DISTINCT FROM orders_agg.order__channel
