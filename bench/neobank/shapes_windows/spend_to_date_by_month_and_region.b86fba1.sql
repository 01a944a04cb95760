-- Shape b86fba1 of spend_to_date_by_month_and_region: metricsctl's output at commit b86fba1: plain sums re-grouped from the daily sums, windows still range joins.
WITH account_dims AS (
  SELECT
    j_account.account_id AS account_id,
    j_account__customer.region AS customer__region
  FROM "warehouse"."main"."stg_accounts" AS j_account
  LEFT JOIN "warehouse"."main"."stg_customers" AS j_account__customer
    ON j_account.customer_id = j_account__customer.customer_id
), transactions_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.booked_date) AS DATE) AS __day,
    j_account.customer__region AS account__customer__region,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__2,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend__3,
    CASE WHEN src.kind = 'fee' THEN src.amount ELSE 0 END AS fee_income,
    CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END AS card_spend
  FROM "warehouse"."main"."stg_transactions" AS src
  LEFT JOIN account_dims AS j_account
    ON src.account_id = j_account.account_id
), transactions_daily AS (
  SELECT
    transactions_rows.__day,
    transactions_rows.account__customer__region,
    SUM(transactions_rows.card_spend) AS card_spend,
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
    transactions_daily.account__customer__region AS account__customer__region,
    SUM(transactions_daily.card_spend) AS card_spend
  FROM transactions_daily
  GROUP BY
    DATE_TRUNC('MONTH', transactions_daily.__day),
    transactions_daily.account__customer__region
), transactions_cumulative AS (
  SELECT
    time_spine.date_day AS __day,
    transactions_daily.account__customer__region AS account__customer__region,
    SUM(transactions_daily.card_spend__2) AS card_spend__2
  FROM "warehouse"."main"."metricflow_time_spine" AS time_spine
  INNER JOIN transactions_daily
    ON transactions_daily.__day <= time_spine.date_day
    AND transactions_daily.__day >= CAST(DATE_TRUNC('MONTH', time_spine.date_day) AS DATE)
  GROUP BY
    time_spine.date_day,
    transactions_daily.account__customer__region
), transactions_cumulative_ranked AS (
  SELECT
    DATE_TRUNC('MONTH', transactions_cumulative.__day) AS metric_time__month,
    transactions_cumulative.account__customer__region AS account__customer__region,
    transactions_cumulative.card_spend__2 AS card_spend__2,
    ROW_NUMBER() OVER (
      PARTITION BY DATE_TRUNC('MONTH', transactions_cumulative.__day), transactions_cumulative.account__customer__region
      ORDER BY transactions_cumulative.__day DESC
    ) AS __period_rank
  FROM transactions_cumulative
), transactions_cumulative_last AS (
  SELECT
    transactions_cumulative_ranked.metric_time__month,
    transactions_cumulative_ranked.account__customer__region,
    transactions_cumulative_ranked.card_spend__2
  FROM transactions_cumulative_ranked
  WHERE
    transactions_cumulative_ranked.__period_rank = 1
), transactions_cumulative_2 AS (
  SELECT
    time_spine.date_day AS __day,
    transactions_daily.account__customer__region AS account__customer__region,
    SUM(transactions_daily.card_spend__3) AS card_spend__3,
    SUM(transactions_daily.fee_income) AS fee_income
  FROM "warehouse"."main"."metricflow_time_spine" AS time_spine
  INNER JOIN transactions_daily
    ON transactions_daily.__day <= time_spine.date_day
    AND transactions_daily.__day >= CAST(DATE_TRUNC('YEAR', time_spine.date_day) AS DATE)
  GROUP BY
    time_spine.date_day,
    transactions_daily.account__customer__region
), transactions_cumulative_ranked_2 AS (
  SELECT
    DATE_TRUNC('MONTH', transactions_cumulative_2.__day) AS metric_time__month,
    transactions_cumulative_2.account__customer__region AS account__customer__region,
    transactions_cumulative_2.card_spend__3 AS card_spend__3,
    transactions_cumulative_2.fee_income AS fee_income,
    ROW_NUMBER() OVER (
      PARTITION BY DATE_TRUNC('MONTH', transactions_cumulative_2.__day), transactions_cumulative_2.account__customer__region
      ORDER BY transactions_cumulative_2.__day DESC
    ) AS __period_rank
  FROM transactions_cumulative_2
), transactions_cumulative_last_2 AS (
  SELECT
    transactions_cumulative_ranked_2.metric_time__month,
    transactions_cumulative_ranked_2.account__customer__region,
    transactions_cumulative_ranked_2.card_spend__3,
    transactions_cumulative_ranked_2.fee_income
  FROM transactions_cumulative_ranked_2
  WHERE
    transactions_cumulative_ranked_2.__period_rank = 1
), combined AS (
  SELECT
    metric_time__month,
    account__customer__region,
    MAX(card_spend) AS card_spend,
    MAX(card_spend__2) AS card_spend__2,
    MAX(card_spend__3) AS card_spend__3,
    MAX(fee_income) AS fee_income
  FROM (
    SELECT
      transactions_agg.metric_time__month,
      transactions_agg.account__customer__region,
      transactions_agg.card_spend,
      NULL AS card_spend__2,
      NULL AS card_spend__3,
      NULL AS fee_income
    FROM transactions_agg
    UNION ALL
    SELECT
      transactions_cumulative_last.metric_time__month,
      transactions_cumulative_last.account__customer__region,
      NULL AS card_spend,
      transactions_cumulative_last.card_spend__2,
      NULL AS card_spend__3,
      NULL AS fee_income
    FROM transactions_cumulative_last
    UNION ALL
    SELECT
      transactions_cumulative_last_2.metric_time__month,
      transactions_cumulative_last_2.account__customer__region,
      NULL AS card_spend,
      NULL AS card_spend__2,
      transactions_cumulative_last_2.card_spend__3,
      transactions_cumulative_last_2.fee_income
    FROM transactions_cumulative_last_2
  ) AS stacked
  GROUP BY
    metric_time__month,
    account__customer__region
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.account__customer__region AS account__customer__region,
  combined.card_spend AS card_spend,
  combined.card_spend__2 AS card_spend_mtd,
  combined.card_spend__3 AS card_spend_ytd,
  combined.fee_income AS fee_income_ytd
FROM combined
