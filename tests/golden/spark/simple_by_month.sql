WITH order_lines_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    SUM(src.quantity * src.unit_price) AS revenue,
    SUM(src.quantity) AS quantity,
    COUNT(src.order_line_id) AS line_count
  FROM `shop`.`main`.`order_lines` AS src
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at)
)
SELECT
  order_lines_agg.metric_time__month AS metric_time__month,
  order_lines_agg.revenue AS revenue,
  order_lines_agg.quantity AS quantity,
  order_lines_agg.line_count AS line_count
FROM order_lines_agg
