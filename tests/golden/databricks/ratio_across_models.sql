WITH order_lines_agg AS (
  SELECT
    DATE_TRUNC('QUARTER', src.ordered_at) AS metric_time__quarter,
    j_order.channel AS order__channel,
    SUM(src.quantity * src.unit_price) AS revenue
  FROM `shop`.`main`.`order_lines` AS src
  LEFT JOIN `shop`.`main`.`orders` AS j_order
    ON src.order_id = j_order.order_id
  GROUP BY
    DATE_TRUNC('QUARTER', src.ordered_at),
    j_order.channel
), orders_agg AS (
  SELECT
    DATE_TRUNC('QUARTER', src.ordered_at) AS metric_time__quarter,
    src.channel AS order__channel,
    SUM(1) AS orders,
    SUM(CASE WHEN src.channel = 'online' THEN 1 END) AS orders__2
  FROM `shop`.`main`.`orders` AS src
  GROUP BY
    DATE_TRUNC('QUARTER', src.ordered_at),
    src.channel
), combined AS (
  SELECT
    metric_time__quarter,
    order__channel,
    MAX(revenue) AS revenue,
    MAX(orders) AS orders,
    MAX(orders__2) AS orders__2
  FROM (
    SELECT
      order_lines_agg.metric_time__quarter,
      order_lines_agg.order__channel,
      order_lines_agg.revenue,
      NULL AS orders,
      NULL AS orders__2
    FROM order_lines_agg
    UNION ALL
    SELECT
      orders_agg.metric_time__quarter,
      orders_agg.order__channel,
      NULL AS revenue,
      orders_agg.orders,
      orders_agg.orders__2
    FROM orders_agg
  ) AS stacked
  GROUP BY
    metric_time__quarter,
    order__channel
)
SELECT
  combined.metric_time__quarter AS metric_time__quarter,
  combined.order__channel AS order__channel,
  CAST(combined.revenue AS DOUBLE) / CAST(NULLIF(combined.orders, 0) AS DOUBLE) AS revenue_per_order,
  CAST(combined.orders__2 AS DOUBLE) / CAST(NULLIF(combined.orders, 0) AS DOUBLE) AS online_order_share
FROM combined
