-- Shape raw_day of balances_by_month_and_product: metricsctl's output at commit da1681a, changed:
-- the balances grouped on the raw snapshot_date (a DATE) and the product, the month and the window day
-- derived per group (525 groups), not DATE_TRUNC('MONTH', ...) and CAST(DATE_TRUNC('DAY', ...)) per row.
WITH balances_by_day AS (
  SELECT
    DATE_TRUNC('MONTH', day_rows.snapshot_date) AS metric_time__month,
    day_rows.account__product,
    day_rows.snapshot_date AS __window_day,
    day_rows.closing_balance,
    day_rows.open_accounts
  FROM (
    SELECT
      src.snapshot_date,
      j_account.product AS account__product,
      SUM(src.balance) AS closing_balance,
      SUM(1) AS open_accounts
    FROM "stg_balances" AS src
    LEFT JOIN "stg_accounts" AS j_account
      ON src.account_id = j_account.account_id
    GROUP BY
      src.snapshot_date,
      j_account.product
  ) AS day_rows
), balances_window AS (
  SELECT
    *,
    MAX(balances_by_day.__window_day) OVER (PARTITION BY balances_by_day.metric_time__month) AS __window_pick
  FROM balances_by_day
), balances_agg AS (
  SELECT
    balances_window.metric_time__month,
    balances_window.account__product,
    SUM(balances_window.closing_balance) AS closing_balance,
    SUM(balances_window.open_accounts) AS open_accounts
  FROM balances_window
  WHERE
    balances_window.__window_day = balances_window.__window_pick
  GROUP BY
    balances_window.metric_time__month,
    balances_window.account__product
)
SELECT
  balances_agg.metric_time__month AS metric_time__month,
  balances_agg.account__product AS account__product,
  balances_agg.closing_balance AS closing_balance,
  balances_agg.open_accounts AS open_accounts,
  CAST(balances_agg.closing_balance AS DOUBLE) / CAST(NULLIF(balances_agg.open_accounts, 0) AS DOUBLE) AS average_balance
FROM balances_agg