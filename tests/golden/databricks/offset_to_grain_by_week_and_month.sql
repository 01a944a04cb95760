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
), order_lines_offset AS (
  SELECT
    DATE_TRUNC('WEEK', time_spine.date_day) AS metric_time__week,
    DATE_TRUNC('MONTH', time_spine.date_day) AS metric_time__month,
    SUM(order_lines_daily.revenue) AS revenue
  FROM `shop`.`main`.`metricflow_time_spine` AS time_spine
  INNER JOIN order_lines_daily
    ON order_lines_daily.__day = CAST(DATE_TRUNC('MONTH', time_spine.date_day) AS DATE)
  WHERE
    (
      CAST(DATE_TRUNC('WEEK', time_spine.date_day) AS DATE) = time_spine.date_day
      OR CAST(DATE_TRUNC('MONTH', time_spine.date_day) AS DATE) = time_spine.date_day
    )
  GROUP BY
    DATE_TRUNC('WEEK', time_spine.date_day),
    DATE_TRUNC('MONTH', time_spine.date_day)
)
SELECT
  order_lines_offset.metric_time__week AS metric_time__week,
  order_lines_offset.metric_time__month AS metric_time__month,
  (
    (
      order_lines_offset.revenue
    )
  ) AS revenue_at_month_start
FROM order_lines_offset
