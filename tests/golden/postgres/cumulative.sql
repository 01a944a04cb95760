WITH order_lines_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.quantity * src.unit_price AS revenue,
    src.quantity * src.unit_price AS revenue__2,
    src.quantity * src.unit_price AS revenue__3
  FROM "shop"."main"."order_lines" AS src
), order_lines_daily AS (
  SELECT
    order_lines_rows.__day,
    SUM(order_lines_rows.revenue) AS revenue,
    SUM(order_lines_rows.revenue__2) AS revenue__2,
    SUM(order_lines_rows.revenue__3) AS revenue__3
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
    DATE_TRUNC('WEEK', order_lines_cumulative.__day) AS metric_time__week,
    order_lines_cumulative.revenue AS revenue,
    ROW_NUMBER() OVER (
      PARTITION BY DATE_TRUNC('WEEK', order_lines_cumulative.__day)
      ORDER BY order_lines_cumulative.__day ASC
    ) AS __period_rank
  FROM order_lines_cumulative
), order_lines_cumulative_first AS (
  SELECT
    order_lines_cumulative_ranked.metric_time__week,
    order_lines_cumulative_ranked.revenue
  FROM order_lines_cumulative_ranked
  WHERE
    order_lines_cumulative_ranked.__period_rank = 1
), order_lines_cumulative_2 AS (
  SELECT
    time_spine.date_day AS __day,
    SUM(order_lines_daily.revenue__2) AS revenue__2
  FROM "shop"."main"."metricflow_time_spine" AS time_spine
  INNER JOIN order_lines_daily
    ON order_lines_daily.__day <= time_spine.date_day
    AND order_lines_daily.__day >= CAST(DATE_TRUNC('MONTH', time_spine.date_day) AS DATE)
  GROUP BY
    time_spine.date_day
), order_lines_cumulative_ranked_2 AS (
  SELECT
    DATE_TRUNC('WEEK', order_lines_cumulative_2.__day) AS metric_time__week,
    order_lines_cumulative_2.revenue__2 AS revenue__2,
    ROW_NUMBER() OVER (
      PARTITION BY DATE_TRUNC('WEEK', order_lines_cumulative_2.__day)
      ORDER BY order_lines_cumulative_2.__day ASC
    ) AS __period_rank
  FROM order_lines_cumulative_2
), order_lines_cumulative_first_2 AS (
  SELECT
    order_lines_cumulative_ranked_2.metric_time__week,
    order_lines_cumulative_ranked_2.revenue__2
  FROM order_lines_cumulative_ranked_2
  WHERE
    order_lines_cumulative_ranked_2.__period_rank = 1
), order_lines_cumulative_3 AS (
  SELECT
    framed.__day AS __day,
    framed.revenue__3
  FROM (
    SELECT
      __day,
      __data,
      SUM(revenue__3) OVER (ORDER BY __day RANGE BETWEEN INTERVAL '6 DAY' PRECEDING AND CURRENT ROW) AS revenue__3,
      COUNT(__data) OVER (ORDER BY __day RANGE BETWEEN INTERVAL '6 DAY' PRECEDING AND CURRENT ROW) AS __rows
    FROM (
      SELECT
        order_lines_daily.__day,
        order_lines_daily.revenue__3,
        1 AS __data
      FROM order_lines_daily
      UNION ALL
      SELECT
        time_spine.date_day AS __day,
        NULL AS revenue__3,
        NULL AS __data
      FROM "shop"."main"."metricflow_time_spine" AS time_spine
      INNER JOIN order_lines_window_bounds
        ON time_spine.date_day >= order_lines_window_bounds.__first
        AND time_spine.date_day <= order_lines_window_bounds.__last + INTERVAL '6 DAY'
    ) AS stacked
  ) AS framed
  WHERE
    framed.__data IS NULL AND framed.__rows > 0
), order_lines_cumulative_avg AS (
  SELECT
    DATE_TRUNC('WEEK', order_lines_cumulative_3.__day) AS metric_time__week,
    AVG(order_lines_cumulative_3.revenue__3) AS revenue__3
  FROM order_lines_cumulative_3
  GROUP BY
    DATE_TRUNC('WEEK', order_lines_cumulative_3.__day)
), group_keys AS (
  SELECT
    metric_time__week
  FROM order_lines_cumulative_first
  UNION
  SELECT
    metric_time__week
  FROM order_lines_cumulative_first_2
  UNION
  SELECT
    metric_time__week
  FROM order_lines_cumulative_avg
)
SELECT
  group_keys.metric_time__week AS metric_time__week,
  order_lines_cumulative_first.revenue AS revenue_7d,
  order_lines_cumulative_first_2.revenue__2 AS revenue_mtd,
  order_lines_cumulative_avg.revenue__3 AS revenue_7d_avg
FROM group_keys
LEFT JOIN order_lines_cumulative_first
  ON group_keys.metric_time__week IS NOT DISTINCT FROM order_lines_cumulative_first.metric_time__week
LEFT JOIN order_lines_cumulative_first_2
  ON group_keys.metric_time__week IS NOT DISTINCT FROM order_lines_cumulative_first_2.metric_time__week
LEFT JOIN order_lines_cumulative_avg
  ON group_keys.metric_time__week IS NOT DISTINCT FROM order_lines_cumulative_avg.metric_time__week
