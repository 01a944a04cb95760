WITH order_lines_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.quantity * src.unit_price AS revenue__3,
    src.quantity * src.unit_price AS revenue
  FROM `shop`.`main`.`order_lines` AS src
), order_lines_daily AS (
  SELECT
    order_lines_rows.__day,
    SUM(order_lines_rows.revenue) AS revenue,
    SUM(order_lines_rows.revenue__3) AS revenue__3
  FROM order_lines_rows
  GROUP BY
    order_lines_rows.__day
), order_lines_agg AS (
  SELECT
    DATE_TRUNC('MONTH', order_lines_daily.__day) AS metric_time__month,
    SUM(order_lines_daily.revenue) AS revenue
  FROM order_lines_daily
  GROUP BY
    DATE_TRUNC('MONTH', order_lines_daily.__day)
), order_lines_by_period AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    SUM(src.quantity * src.unit_price) AS revenue__2
  FROM `shop`.`main`.`order_lines` AS src
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at)
), order_lines_offset AS (
  SELECT
    periods.metric_time__month AS metric_time__month,
    order_lines_by_period.revenue__2 AS revenue__2
  FROM (
    SELECT DISTINCT
      DATE_TRUNC('MONTH', time_spine.date_day) AS metric_time__month
    FROM `shop`.`main`.`metricflow_time_spine` AS time_spine
  ) AS periods
  INNER JOIN order_lines_by_period
    ON order_lines_by_period.metric_time__month = periods.metric_time__month - INTERVAL '1' MONTH
), order_lines_offset_2 AS (
  SELECT
    DATE_TRUNC('MONTH', time_spine.date_day) AS metric_time__month,
    SUM(order_lines_daily.revenue__3) AS revenue__3
  FROM `shop`.`main`.`metricflow_time_spine` AS time_spine
  INNER JOIN order_lines_daily
    ON order_lines_daily.__day = time_spine.date_day - INTERVAL '7' DAY
  GROUP BY
    DATE_TRUNC('MONTH', time_spine.date_day)
), combined AS (
  SELECT
    metric_time__month,
    MAX(revenue) AS revenue,
    MAX(revenue__2) AS revenue__2,
    MAX(revenue__3) AS revenue__3
  FROM (
    SELECT
      order_lines_agg.metric_time__month,
      order_lines_agg.revenue,
      NULL AS revenue__2,
      NULL AS revenue__3
    FROM order_lines_agg
    UNION ALL
    SELECT
      order_lines_offset.metric_time__month,
      NULL AS revenue,
      order_lines_offset.revenue__2,
      NULL AS revenue__3
    FROM order_lines_offset
    UNION ALL
    SELECT
      order_lines_offset_2.metric_time__month,
      NULL AS revenue,
      NULL AS revenue__2,
      order_lines_offset_2.revenue__3
    FROM order_lines_offset_2
  ) AS stacked
  GROUP BY
    metric_time__month
)
SELECT
  combined.metric_time__month AS metric_time__month,
  (
    CAST((
      (
        combined.revenue
      ) - (
        combined.revenue__2
      )
    ) AS DOUBLE) / NULLIF((
      combined.revenue__2
    ), 0)
  ) AS revenue_mom_growth,
  (
    (
      combined.revenue__3
    )
  ) AS revenue_week_ago
FROM combined
