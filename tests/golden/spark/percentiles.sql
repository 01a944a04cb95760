WITH orders_agg AS (
  SELECT
    DATE_TRUNC('YEAR', src.ordered_at) AS metric_time__year,
    PERCENTILE(src.amount, 0.5) AS median_order_amount,
    PERCENTILE(src.amount, 0.9) AS p90_order_amount,
    PERCENTILE_APPROX(src.amount, 0.9) AS p90_order_amount_discrete
  FROM `shop`.`main`.`orders` AS src
  WHERE
    DATE_TRUNC('YEAR', src.ordered_at) >= DATE_TRUNC('YEAR', CAST('2024-01-01' AS TIMESTAMP))
    AND DATE_TRUNC('YEAR', src.ordered_at) <= DATE_TRUNC('YEAR', CAST('2024-12-31' AS TIMESTAMP))
  GROUP BY
    DATE_TRUNC('YEAR', src.ordered_at)
)
SELECT
  orders_agg.metric_time__year AS metric_time__year,
  orders_agg.median_order_amount AS median_order_amount,
  orders_agg.p90_order_amount AS p90_order_amount,
  orders_agg.p90_order_amount_discrete AS p90_order_amount_discrete
FROM orders_agg
