-- Shape one_scan_hop_once_window of daily_spend_by_segment: metricsctl's output at commit da1681a, changed:
-- one_scan_hop_once, and the two rolling sums computed by window functions over the daily sums laid on
-- the spine's days for every segment (one pass, RANGE frames of 7 and 28 days), instead of two range
-- joins of the spine to the daily sums and a UNION of their keys. (A daily row before the spine's first
-- day would need the grid to hold it too; here the spine covers the data.)
WITH account_dims AS (
  SELECT
    j_account.account_id,
    j_customer.segment
  FROM "stg_accounts" AS j_account
  LEFT JOIN "stg_customers" AS j_customer
    ON j_account.customer_id = j_customer.customer_id
), transactions_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.booked_date) AS DATE) AS __day,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__1,
    j_account__customer.segment AS account__customer__segment,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__2,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__3,
    src.transaction_id AS transactions
  FROM "stg_transactions" AS src
  LEFT JOIN account_dims AS j_account__customer
    ON src.account_id = j_account__customer.account_id
), transactions_daily AS (
  SELECT
    transactions_rows.__day,
    transactions_rows.account__customer__segment,
    SUM(transactions_rows.card_spend__1) AS card_spend__1,
    SUM(transactions_rows.card_spend__2) AS card_spend__2,
    SUM(transactions_rows.card_spend__3) AS card_spend__3,
    COUNT(transactions_rows.transactions) AS transactions
  FROM transactions_rows
  GROUP BY
    transactions_rows.__day,
    transactions_rows.account__customer__segment
), transactions_agg AS (
  SELECT
    DATE_TRUNC('DAY', transactions_daily.__day) AS metric_time__day,
    transactions_daily.account__customer__segment,
    SUM(transactions_daily.card_spend__1) AS card_spend
  FROM transactions_daily
  GROUP BY
    DATE_TRUNC('DAY', transactions_daily.__day),
    transactions_daily.account__customer__segment
), transactions_grid AS (
  SELECT
    time_spine.date_day AS __day,
    keys.account__customer__segment,
    transactions_daily.card_spend__2,
    transactions_daily.card_spend__3,
    transactions_daily.transactions
  FROM "metricflow_time_spine" AS time_spine
  CROSS JOIN (SELECT DISTINCT account__customer__segment FROM transactions_daily) AS keys
  LEFT JOIN transactions_daily
    ON transactions_daily.__day = time_spine.date_day
    AND transactions_daily.account__customer__segment IS NOT DISTINCT FROM keys.account__customer__segment
), transactions_windows AS (
  SELECT
    DATE_TRUNC('DAY', __day) AS metric_time__day,
    account__customer__segment,
    SUM(card_spend__2) OVER w7 AS card_spend__2,
    SUM(transactions) OVER w7 AS transactions,
    SUM(card_spend__3) OVER w28 AS card_spend__3,
    COUNT(transactions) OVER w28 AS __days_28
  FROM transactions_grid
  WINDOW
    w7 AS (PARTITION BY account__customer__segment ORDER BY __day RANGE BETWEEN INTERVAL 6 DAY PRECEDING AND CURRENT ROW),
    w28 AS (PARTITION BY account__customer__segment ORDER BY __day RANGE BETWEEN INTERVAL 27 DAY PRECEDING AND CURRENT ROW)
)
SELECT
  transactions_windows.metric_time__day AS metric_time__day,
  transactions_windows.account__customer__segment AS account__customer__segment,
  transactions_agg.card_spend AS card_spend,
  transactions_windows.card_spend__2 AS card_spend_7d,
  transactions_windows.card_spend__3 AS card_spend_28d,
  transactions_windows.transactions AS transactions_7d
FROM transactions_windows
LEFT JOIN transactions_agg
  ON transactions_windows.metric_time__day = transactions_agg.metric_time__day
  AND transactions_windows.account__customer__segment IS NOT DISTINCT FROM transactions_agg.account__customer__segment
WHERE
  transactions_windows.__days_28 > 0
