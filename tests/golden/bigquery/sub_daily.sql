WITH sessions_agg AS (
  SELECT
    TIMESTAMP_TRUNC(src.started_at, HOUR) AS metric_time__hour,
    TIMESTAMP_TRUNC(src.started_at, MINUTE) AS session__started_at__minute,
    COUNT(src.session_id) AS sessions
  FROM `shop`.`main`.`sessions` AS src
  GROUP BY
    TIMESTAMP_TRUNC(src.started_at, HOUR),
    TIMESTAMP_TRUNC(src.started_at, MINUTE)
)
SELECT
  sessions_agg.metric_time__hour AS metric_time__hour,
  sessions_agg.session__started_at__minute AS session__started_at__minute,
  sessions_agg.sessions AS sessions
FROM sessions_agg
