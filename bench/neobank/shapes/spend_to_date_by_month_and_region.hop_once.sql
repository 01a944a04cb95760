-- Shape hop_once of spend_to_date_by_month_and_region: metricsctl's output at commit da1681a, changed:
-- the two hops (account -> customer -> region) joined once, over the 31k accounts, and that map
-- joined to each transaction (one hash join a row instead of two).
WITH account_dims AS (
  SELECT
    j_account.account_id,
    j_customer.region
  FROM "stg_accounts" AS j_account
  LEFT JOIN "stg_customers" AS j_customer
    ON j_account.customer_id = j_customer.customer_id
), transactions_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.booked_date) AS metric_time__month,
    j_account__customer.region AS account__customer__region,
    SUM(CASE WHEN src.kind = 'card' THEN src.amount ELSE 0 END) AS card_spend
  FROM "stg_transactions" AS src
  LEFT JOIN account_dims AS j_account__customer
    ON src.account_id = j_account__customer.account_id
  GROUP BY
    DATE_TRUNC('MONTH', src.booked_date),
    j_account__customer.region
), transactions_rows AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.booked_date) AS DATE) AS __day,
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
    SUM(transactions_rows.card_spend__2) AS card_spend__2,
    SUM(transactions_rows.card_spend__3) AS card_spend__3,
    SUM(transactions_rows.fee_income) AS fee_income
  FROM transactions_rows
  GROUP BY
    transactions_rows.__day,
    transactions_rows.account__customer__region
), transactions_cumulative AS (
  SELECT
    time_spine.date_day AS __day,
    transactions_daily.account__customer__region AS account__customer__region,
    SUM(transactions_daily.card_spend__2) AS card_spend__2
  FROM "metricflow_time_spine" AS time_spine
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
  FROM "metricflow_time_spine" AS time_spine
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
), group_keys AS (
  SELECT
    metric_time__month,
    account__customer__region
  FROM transactions_agg
  UNION
  SELECT
    metric_time__month,
    account__customer__region
  FROM transactions_cumulative_last
  UNION
  SELECT
    metric_time__month,
    account__customer__region
  FROM transactions_cumulative_last_2
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  group_keys.account__customer__region AS account__customer__region,
  transactions_agg.card_spend AS card_spend,
  transactions_cumulative_last.card_spend__2 AS card_spend_mtd,
  transactions_cumulative_last_2.card_spend__3 AS card_spend_ytd,
  transactions_cumulative_last_2.fee_income AS fee_income_ytd
FROM group_keys
LEFT JOIN transactions_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM transactions_agg.metric_time__month
  AND group_keys.account__customer__region IS NOT DISTINCT FROM transactions_agg.account__customer__region
LEFT JOIN transactions_cumulative_last
  ON group_keys.metric_time__month IS NOT DISTINCT FROM transactions_cumulative_last.metric_time__month
  AND group_keys.account__customer__region IS NOT DISTINCT FROM transactions_cumulative_last.account__customer__region
LEFT JOIN transactions_cumulative_last_2
  ON group_keys.metric_time__month IS NOT DISTINCT FROM transactions_cumulative_last_2.metric_time__month
  AND group_keys.account__customer__region IS NOT DISTINCT FROM transactions_cumulative_last_2.account__customer__region