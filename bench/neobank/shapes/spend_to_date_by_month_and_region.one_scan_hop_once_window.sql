-- Shape one_scan_hop_once_window of spend_to_date_by_month_and_region: metricsctl's output at commit
-- da1681a, changed: one_scan_hop_once, and month and year to date at month grain (period_agg: last) read
-- from monthly sums of the daily sums up to the last spine day: the month to date of a month's last day is
-- the month's sum, the year to date a running sum over the year's months (a window), instead of range
-- joins of every spine day to the daily sums, ROW_NUMBER over those days and a UNION of keys.
WITH account_dims AS (
  SELECT
    j_account.account_id,
    j_customer.region
  FROM "stg_accounts" AS j_account
  LEFT JOIN "stg_customers" AS j_customer
    ON j_account.customer_id = j_customer.customer_id
), transactions_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.booked_date) AS DATE) AS __day,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__1,
    j_account__customer.region AS account__customer__region,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__2,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__3,
    CASE WHEN src.kind = 'fee' THEN src.amount ELSE 0 END AS fee_income
  FROM "stg_transactions" AS src
  LEFT JOIN account_dims AS j_account__customer
    ON src.account_id = j_account__customer.account_id
), transactions_daily AS (
  SELECT
    transactions_rows.__day,
    transactions_rows.account__customer__region,
    SUM(transactions_rows.card_spend__1) AS card_spend__1,
    SUM(transactions_rows.card_spend__2) AS card_spend__2,
    SUM(transactions_rows.card_spend__3) AS card_spend__3,
    SUM(transactions_rows.fee_income) AS fee_income
  FROM transactions_rows
  GROUP BY
    transactions_rows.__day,
    transactions_rows.account__customer__region
), transactions_agg AS (
  SELECT
    DATE_TRUNC('MONTH', transactions_daily.__day) AS metric_time__month,
    transactions_daily.account__customer__region,
    SUM(transactions_daily.card_spend__1) AS card_spend
  FROM transactions_daily
  GROUP BY
    DATE_TRUNC('MONTH', transactions_daily.__day),
    transactions_daily.account__customer__region
), transactions_months AS (
  SELECT
    DATE_TRUNC('MONTH', transactions_daily.__day) AS metric_time__month,
    transactions_daily.account__customer__region,
    SUM(transactions_daily.card_spend__2) AS card_spend__2,
    SUM(transactions_daily.card_spend__3) AS card_spend__3,
    SUM(transactions_daily.fee_income) AS fee_income
  FROM transactions_daily
  WHERE
    transactions_daily.__day <= (SELECT MAX(date_day) FROM "metricflow_time_spine")
  GROUP BY
    DATE_TRUNC('MONTH', transactions_daily.__day),
    transactions_daily.account__customer__region
), transactions_grid AS (
  SELECT
    months.metric_time__month,
    keys.account__customer__region,
    transactions_months.card_spend__2,
    transactions_months.card_spend__3,
    transactions_months.fee_income
  FROM (SELECT DISTINCT DATE_TRUNC('MONTH', date_day) AS metric_time__month FROM "metricflow_time_spine") AS months
  CROSS JOIN (SELECT DISTINCT account__customer__region FROM transactions_months) AS keys
  LEFT JOIN transactions_months
    ON transactions_months.metric_time__month = months.metric_time__month
    AND transactions_months.account__customer__region IS NOT DISTINCT FROM keys.account__customer__region
), transactions_to_date AS (
  SELECT
    metric_time__month,
    account__customer__region,
    card_spend__2,
    SUM(card_spend__3) OVER ytd AS card_spend__3,
    SUM(fee_income) OVER ytd AS fee_income,
    COUNT(fee_income) OVER ytd AS __months_ytd
  FROM transactions_grid
  WINDOW ytd AS (
    PARTITION BY account__customer__region, DATE_TRUNC('YEAR', metric_time__month)
    ORDER BY metric_time__month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
  )
)
SELECT
  transactions_to_date.metric_time__month AS metric_time__month,
  transactions_to_date.account__customer__region AS account__customer__region,
  transactions_agg.card_spend AS card_spend,
  transactions_to_date.card_spend__2 AS card_spend_mtd,
  transactions_to_date.card_spend__3 AS card_spend_ytd,
  transactions_to_date.fee_income AS fee_income_ytd
FROM transactions_to_date
LEFT JOIN transactions_agg
  ON transactions_to_date.metric_time__month = transactions_agg.metric_time__month
  AND transactions_to_date.account__customer__region IS NOT DISTINCT FROM transactions_agg.account__customer__region
WHERE
  transactions_to_date.__months_ytd > 0
