WITH order_lines_rows AS (
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
), order_lines_window_bounds AS (
  SELECT
    MIN(order_lines_daily.__day) AS __first,
    MAX(order_lines_daily.__day) AS __last
  FROM order_lines_daily
), order_lines_cumulative AS (
  SELECT
    framed.__day AS __day,
    framed.revenue
  FROM (
    SELECT
      __day,
      __data,
      SUM(revenue) OVER (ORDER BY __day RANGE BETWEEN INTERVAL '6 DAY' PRECEDING AND CURRENT ROW) AS revenue,
      COUNT(__data) OVER (ORDER BY __day RANGE BETWEEN INTERVAL '6 DAY' PRECEDING AND CURRENT ROW) AS __rows
    FROM (
      SELECT
        order_lines_daily.__day,
        order_lines_daily.revenue,
        1 AS __data
      FROM order_lines_daily
      UNION ALL
      SELECT
        time_spine.date_day AS __day,
        NULL AS revenue,
        NULL AS __data
      FROM "shop"."main"."metricflow_time_spine" AS time_spine
      INNER JOIN order_lines_window_bounds
        ON time_spine.date_day >= order_lines_window_bounds.__first
        AND time_spine.date_day <= order_lines_window_bounds.__last + INTERVAL '6 DAY'
    ) AS stacked
  ) AS framed
  WHERE
    framed.__data IS NULL AND framed.__rows > 0
), order_lines_cumulative_ranked AS (
  SELECT
    DATE_TRUNC('MONTH', order_lines_cumulative.__day) AS order_line__ordered_at__month,
    order_lines_cumulative.revenue AS revenue,
    ROW_NUMBER() OVER (
      PARTITION BY DATE_TRUNC('MONTH', order_lines_cumulative.__day)
      ORDER BY order_lines_cumulative.__day ASC
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
