WITH customers_values AS (
  SELECT DISTINCT
    src.region AS customer__region
  FROM `shop`.`main`.`customers` AS src
), time_spine_periods AS (
  SELECT DISTINCT
    DATE_TRUNC('MONTH', time_spine.date_day) AS metric_time__month
  FROM `shop`.`main`.`metricflow_time_spine` AS time_spine
), periods_and_values AS (
  SELECT
    time_spine_periods.metric_time__month AS metric_time__month,
    customers_values.customer__region AS customer__region
  FROM time_spine_periods
  CROSS JOIN customers_values
)
SELECT
  periods_and_values.metric_time__month AS metric_time__month,
  periods_and_values.customer__region AS customer__region
FROM periods_and_values
