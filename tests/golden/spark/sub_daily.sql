WITH sessions_agg AS (
  SELECT
    DATE_TRUNC('HOUR', src.started_at) AS metric_time__hour,
    DATE_TRUNC('MINUTE', src.started_at) AS session__started_at__minute,
    COUNT(src.session_id) AS sessions
  FROM `shop`.`main`.`sessions` AS src
  GROUP BY
    DATE_TRUNC('HOUR', src.started_at),
    DATE_TRUNC('MINUTE', src.started_at)
)
SELECT
  sessions_agg.metric_time__hour AS metric_time__hour,
  sessions_agg.session__started_at__minute AS session__started_at__minute,
  sessions_agg.sessions AS sessions
FROM sessions_agg
