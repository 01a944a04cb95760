WITH order_lines_by_period AS (
  SELECT
    time_spine_1.fiscal_quarter AS metric_time__fiscal_quarter,
    SUM(src.quantity * src.unit_price) AS revenue
  FROM `shop`.`main`.`order_lines` AS src
  LEFT JOIN `shop`.`main`.`metricflow_time_spine` AS time_spine_1
    ON time_spine_1.date_day = CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE)
  GROUP BY
    time_spine_1.fiscal_quarter
), fiscal_quarter_offset_periods AS (
  SELECT
    metric_time__fiscal_quarter,
    LEAD(metric_time__fiscal_quarter, 1) OVER (ORDER BY metric_time__fiscal_quarter NULLS LAST) AS __offset_period
  FROM (
    SELECT DISTINCT
      time_spine.fiscal_quarter AS metric_time__fiscal_quarter
    FROM `shop`.`main`.`metricflow_time_spine` AS time_spine
  ) AS periods
), order_lines_offset AS (
  SELECT
    fiscal_quarter_offset_periods.__offset_period AS metric_time__fiscal_quarter,
    order_lines_by_period.revenue AS revenue
  FROM order_lines_by_period
  INNER JOIN fiscal_quarter_offset_periods
    ON fiscal_quarter_offset_periods.metric_time__fiscal_quarter = order_lines_by_period.metric_time__fiscal_quarter
)
SELECT
  order_lines_offset.metric_time__fiscal_quarter AS metric_time__fiscal_quarter,
  (
    (
      order_lines_offset.revenue
    )
  ) AS revenue_fiscal_quarter_ago
FROM order_lines_offset
