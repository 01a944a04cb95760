WITH orders_agg AS (
  SELECT
    DATE_TRUNC(src.ordered_at, YEAR) AS metric_time__year,
    APPROX_QUANTILES(src.amount, 100)[OFFSET(50)] AS median_order_amount,
    APPROX_QUANTILES(src.amount, 100)[OFFSET(90)] AS p90_order_amount,
    APPROX_QUANTILES(src.amount, 100)[OFFSET(90)] AS p90_order_amount_discrete
  FROM `shop`.`main`.`orders` AS src
  WHERE
    DATE_TRUNC(src.ordered_at, YEAR) >= DATE_TRUNC(CAST('2024-01-01' AS DATETIME), YEAR)
    AND DATE_TRUNC(src.ordered_at, YEAR) <= DATE_TRUNC(CAST('2024-12-31' AS DATETIME), YEAR)
  GROUP BY
    DATE_TRUNC(src.ordered_at, YEAR)
)
SELECT
  orders_agg.metric_time__year AS metric_time__year,
  orders_agg.median_order_amount AS median_order_amount,
  orders_agg.p90_order_amount AS p90_order_amount,
  orders_agg.p90_order_amount_discrete AS p90_order_amount_discrete
FROM orders_agg
