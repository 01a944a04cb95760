-- Shape bec686d of daily_spend_by_segment: metricsctl's output at commit bec686d, before plain sums were re-grouped from the daily sums and windows became window functions.
WITH account_dims AS (
  SELECT
    j_account.account_id AS account_id,
    j_account__customer.segment AS customer__segment
  FROM "warehouse"."main"."stg_accounts" AS j_account
  LEFT JOIN "warehouse"."main"."stg_customers" AS j_account__customer
    ON j_account.customer_id = j_account__customer.customer_id
), transactions_read AS MATERIALIZED (
  SELECT
    src.booked_date,
    src.account_id,
    src.amount,
    src.kind,
    src.transaction_id
  FROM "warehouse"."main"."stg_transactions" AS src
), transactions_agg AS (
  SELECT
    DATE_TRUNC('DAY', src.booked_date) AS metric_time__day,
    j_account.customer__segment AS account__customer__segment,
    SUM(CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END) AS card_spend
  FROM transactions_read AS src
  LEFT JOIN account_dims AS j_account
    ON src.account_id = j_account.account_id
  GROUP BY
    DATE_TRUNC('DAY', src.booked_date),
    j_account.customer__segment
), transactions_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.booked_date) AS DATE) AS __day,
    j_account.customer__segment AS account__customer__segment,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__2,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__3,
    src.transaction_id AS transactions
  FROM transactions_read AS src
  LEFT JOIN account_dims AS j_account
    ON src.account_id = j_account.account_id
), transactions_daily AS (
  SELECT
    transactions_rows.__day,
    transactions_rows.account__customer__segment,
    SUM(transactions_rows.card_spend__2) AS card_spend__2,
    SUM(transactions_rows.card_spend__3) AS card_spend__3,
    COUNT(transactions_rows.transactions) AS transactions
  FROM transactions_rows
  GROUP BY
    transactions_rows.__day,
    transactions_rows.account__customer__segment
), transactions_cumulative AS (
  SELECT
    time_spine.date_day AS __day,
    transactions_daily.account__customer__segment AS account__customer__segment,
    SUM(transactions_daily.card_spend__2) AS card_spend__2,
    SUM(transactions_daily.transactions) AS transactions
  FROM "warehouse"."main"."metricflow_time_spine" AS time_spine
  INNER JOIN transactions_daily
    ON transactions_daily.__day <= time_spine.date_day
    AND transactions_daily.__day > time_spine.date_day - INTERVAL '7' DAY
  GROUP BY
    time_spine.date_day,
    transactions_daily.account__customer__segment
), transactions_cumulative_by_day AS (
  SELECT
    DATE_TRUNC('DAY', transactions_cumulative.__day) AS metric_time__day,
    transactions_cumulative.account__customer__segment AS account__customer__segment,
    transactions_cumulative.card_spend__2 AS card_spend__2,
    transactions_cumulative.transactions AS transactions
  FROM transactions_cumulative
), transactions_cumulative_2 AS (
  SELECT
    time_spine.date_day AS __day,
    transactions_daily.account__customer__segment AS account__customer__segment,
    SUM(transactions_daily.card_spend__3) AS card_spend__3
  FROM "warehouse"."main"."metricflow_time_spine" AS time_spine
  INNER JOIN transactions_daily
    ON transactions_daily.__day <= time_spine.date_day
    AND transactions_daily.__day > time_spine.date_day - INTERVAL '28' DAY
  GROUP BY
    time_spine.date_day,
    transactions_daily.account__customer__segment
), transactions_cumulative_by_day_2 AS (
  SELECT
    DATE_TRUNC('DAY', transactions_cumulative_2.__day) AS metric_time__day,
    transactions_cumulative_2.account__customer__segment AS account__customer__segment,
    transactions_cumulative_2.card_spend__3 AS card_spend__3
  FROM transactions_cumulative_2
), combined AS (
  SELECT
    metric_time__day,
    account__customer__segment,
    MAX(card_spend) AS card_spend,
    MAX(card_spend__2) AS card_spend__2,
    MAX(transactions) AS transactions,
    MAX(card_spend__3) AS card_spend__3
  FROM (
    SELECT
      transactions_agg.metric_time__day,
      transactions_agg.account__customer__segment,
      transactions_agg.card_spend,
      NULL AS card_spend__2,
      NULL AS transactions,
      NULL AS card_spend__3
    FROM transactions_agg
    UNION ALL
    SELECT
      transactions_cumulative_by_day.metric_time__day,
      transactions_cumulative_by_day.account__customer__segment,
      NULL AS card_spend,
      transactions_cumulative_by_day.card_spend__2,
      transactions_cumulative_by_day.transactions,
      NULL AS card_spend__3
    FROM transactions_cumulative_by_day
    UNION ALL
    SELECT
      transactions_cumulative_by_day_2.metric_time__day,
      transactions_cumulative_by_day_2.account__customer__segment,
      NULL AS card_spend,
      NULL AS card_spend__2,
      NULL AS transactions,
      transactions_cumulative_by_day_2.card_spend__3
    FROM transactions_cumulative_by_day_2
  ) AS stacked
  GROUP BY
    metric_time__day,
    account__customer__segment
)
SELECT
  combined.metric_time__day AS metric_time__day,
  combined.account__customer__segment AS account__customer__segment,
  combined.card_spend AS card_spend,
  combined.card_spend__2 AS card_spend_7d,
  combined.card_spend__3 AS card_spend_28d,
  combined.transactions AS transactions_7d
FROM combined
