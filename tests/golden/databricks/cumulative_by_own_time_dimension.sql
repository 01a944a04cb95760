WITH order_lines_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.quantity * src.unit_price AS revenue
  FROM `shop`.`main`.`order_lines` AS src
), order_lines_daily AS (
  SELECT
    order_lines_rows.__day,
    SUM(order_lines_rows.revenue) AS revenue
  FROM order_lines_rows
  GROUP BY
    order_lines_rows.__day
), order_lines_cumulative AS (
  SELECT
    time_spine.date_day AS __day,
    SUM(order_lines_daily.revenue) AS revenue
  FROM `shop`.`main`.`metricflow_time_spine` AS time_spine
  INNER JOIN order_lines_daily
    ON order_lines_daily.__day <= time_spine.date_day
    AND order_lines_daily.__day > time_spine.date_day - INTERVAL '7' DAY
  GROUP BY
    time_spine.date_day
), order_lines_cumulative_ranked AS (
  SELECT
    DATE_TRUNC('MONTH', order_lines_cumulative.__day) AS order_line__ordered_at__month,
    order_lines_cumulative.revenue AS revenue,
    ROW_NUMBER() OVER (
      PARTITION BY DATE_TRUNC('MONTH', order_lines_cumulative.__day)
      ORDER BY order_lines_cumulative.__day ASC NULLS LAST
    ) AS __period_rank
  FROM order_lines_cumulative
), order_lines_cumulative_first AS (
  SELECT
    order_lines_cumulative_ranked.order_line__ordered_at__month,
    order_lines_cumulative_ranked.revenue
  FROM order_lines_cumulative_ranked
  WHERE
    order_lines_cumulative_ranked.__period_rank = 1
)
SELECT
  order_lines_cumulative_first.order_line__ordered_at__month AS order_line__ordered_at__month,
  order_lines_cumulative_first.revenue AS revenue_7d
FROM order_lines_cumulative_first
