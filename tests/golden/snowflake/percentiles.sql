WITH orders_agg AS (
  SELECT
    DATE_TRUNC('YEAR', src.ordered_at) AS metric_time__year,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
      src.amount) AS median_order_amount,
    PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
      src.amount) AS p90_order_amount,
    PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY
      src.amount) AS p90_order_amount_discrete
  FROM "shop"."main"."orders" AS src
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
