WITH fiscal_quarter_days AS (
  SELECT
    time_spine.date_day AS __day,
    time_spine.fiscal_quarter AS __period,
    ROW_NUMBER() OVER (PARTITION BY time_spine.fiscal_quarter ORDER BY time_spine.date_day) AS __position,
    MIN(time_spine.date_day) OVER (PARTITION BY time_spine.fiscal_quarter) AS __first,
    MAX(time_spine.date_day) OVER (PARTITION BY time_spine.fiscal_quarter) AS __last
  FROM "shop"."main"."metricflow_time_spine" AS time_spine
), fiscal_quarter_offset_periods AS (
  SELECT
    __period,
    LEAD(__first, 1) OVER (ORDER BY __period) AS __first,
    LEAD(__last, 1) OVER (ORDER BY __period) AS __last
  FROM (
    SELECT DISTINCT
      __period,
      __first,
      __last
    FROM fiscal_quarter_days
  ) AS periods
), fiscal_quarter_offset_days AS (
  SELECT
    fiscal_quarter_days.__day,
    CASE
      WHEN CAST(DATE_ADD(
        'DAY',
        CAST(fiscal_quarter_days.__position - 1 AS BIGINT),
        fiscal_quarter_offset_periods.__first
      ) AS DATE) <= fiscal_quarter_offset_periods.__last
      THEN CAST(DATE_ADD(
        'DAY',
        CAST(fiscal_quarter_days.__position - 1 AS BIGINT),
        fiscal_quarter_offset_periods.__first
      ) AS DATE)
    END AS __offset_day
  FROM fiscal_quarter_days
  INNER JOIN fiscal_quarter_offset_periods
    ON fiscal_quarter_days.__period = fiscal_quarter_offset_periods.__period
), order_lines_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.quantity * src.unit_price AS revenue
  FROM "shop"."main"."order_lines" AS src
), order_lines_daily AS (
  SELECT
    order_lines_rows.__day,
    SUM(order_lines_rows.revenue) AS revenue
  FROM order_lines_rows
  GROUP BY
    order_lines_rows.__day
), order_lines_offset AS (
  SELECT
    DATE_TRUNC('MONTH', time_spine.date_day) AS metric_time__month,
    SUM(order_lines_daily.revenue) AS revenue
  FROM fiscal_quarter_offset_days
  LEFT JOIN "shop"."main"."metricflow_time_spine" AS time_spine
    ON fiscal_quarter_offset_days.__offset_day = time_spine.date_day
  INNER JOIN order_lines_daily
    ON order_lines_daily.__day = fiscal_quarter_offset_days.__day
  GROUP BY
    DATE_TRUNC('MONTH', time_spine.date_day)
)
SELECT
  order_lines_offset.metric_time__month AS metric_time__month,
  (
    (
      order_lines_offset.revenue
    )
  ) AS revenue_fiscal_quarter_ago
FROM order_lines_offset
