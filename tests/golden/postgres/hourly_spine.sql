WITH sessions_read AS MATERIALIZED (
  SELECT
    src.session_id,
    src.started_at
  FROM "shop"."main"."sessions" AS src
), sessions_rows AS (
  SELECT
    CAST(DATE_TRUNC('HOUR', DATE_TRUNC('HOUR', src.started_at)) AS TIMESTAMP) AS __day,
    src.session_id AS hourly_sessions
  FROM sessions_read AS src
), sessions_daily AS (
  SELECT
    sessions_rows.__day,
    COUNT(sessions_rows.hourly_sessions) AS hourly_sessions
  FROM sessions_rows
  GROUP BY
    sessions_rows.__day
), sessions_cumulative AS (
  SELECT
    time_spine.date_hour AS __day,
    SUM(sessions_daily.hourly_sessions) AS hourly_sessions
  FROM "shop"."main"."metricflow_time_spine_hour" AS time_spine
  INNER JOIN sessions_daily
    ON sessions_daily.__day <= time_spine.date_hour
    AND sessions_daily.__day > time_spine.date_hour - INTERVAL '3 HOUR'
  GROUP BY
    time_spine.date_hour
), sessions_cumulative_by_day AS (
  SELECT
    DATE_TRUNC('HOUR', sessions_cumulative.__day) AS metric_time__hour,
    sessions_cumulative.hourly_sessions AS hourly_sessions
  FROM sessions_cumulative
), sessions_by_period AS (
  SELECT
    DATE_TRUNC('HOUR', DATE_TRUNC('HOUR', src.started_at)) AS metric_time__hour,
    COUNT(src.session_id) AS hourly_sessions__2
  FROM sessions_read AS src
  GROUP BY
    DATE_TRUNC('HOUR', DATE_TRUNC('HOUR', src.started_at))
), sessions_offset AS (
  SELECT
    periods.metric_time__hour AS metric_time__hour,
    sessions_by_period.hourly_sessions__2 AS hourly_sessions__2
  FROM (
    SELECT DISTINCT
      DATE_TRUNC('HOUR', time_spine.date_hour) AS metric_time__hour
    FROM "shop"."main"."metricflow_time_spine_hour" AS time_spine
  ) AS periods
  INNER JOIN sessions_by_period
    ON sessions_by_period.metric_time__hour = periods.metric_time__hour - INTERVAL '1 HOUR'
), sessions_agg AS (
  SELECT
    DATE_TRUNC('HOUR', src.started_at) AS metric_time__hour,
    COUNT(src.session_id) AS sessions
  FROM sessions_read AS src
  GROUP BY
    DATE_TRUNC('HOUR', src.started_at)
), sessions_spine AS (
  SELECT
    periods.metric_time__hour AS metric_time__hour,
    sessions_agg.sessions AS sessions
  FROM (
    SELECT DISTINCT
      DATE_TRUNC('HOUR', time_spine.date_hour) AS metric_time__hour
    FROM "shop"."main"."metricflow_time_spine_hour" AS time_spine
  ) AS periods
  LEFT JOIN sessions_agg
    ON periods.metric_time__hour = sessions_agg.metric_time__hour
), group_keys AS (
  SELECT
    metric_time__hour
  FROM sessions_cumulative_by_day
  UNION
  SELECT
    metric_time__hour
  FROM sessions_offset
  UNION
  SELECT
    metric_time__hour
  FROM sessions_spine
)
SELECT
  group_keys.metric_time__hour AS metric_time__hour,
  sessions_cumulative_by_day.hourly_sessions AS sessions_3h,
  (
    (
      sessions_offset.hourly_sessions__2
    )
  ) AS sessions_hour_ago,
  COALESCE(sessions_spine.sessions, 0) AS sessions_filled
FROM group_keys
LEFT JOIN sessions_cumulative_by_day
  ON group_keys.metric_time__hour IS NOT DISTINCT FROM sessions_cumulative_by_day.metric_time__hour
LEFT JOIN sessions_offset
  ON group_keys.metric_time__hour IS NOT DISTINCT FROM sessions_offset.metric_time__hour
LEFT JOIN sessions_spine
  ON group_keys.metric_time__hour IS NOT DISTINCT FROM sessions_spine.metric_time__hour
