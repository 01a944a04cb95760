WITH inventory_read AS MATERIALIZED (
  SELECT
    src.balance_date,
    src.on_hand,
    src.product_id
  FROM "shop"."main"."inventory_balances" AS src
), inventory_days AS (
  SELECT
    src.balance_date AS __time_1,
    SUM(src.on_hand) AS stock_on_hand
  FROM inventory_read AS src
  GROUP BY
    src.balance_date
), inventory_by_day AS (
  SELECT
    DATE_TRUNC('MONTH', __time_1) AS metric_time__month,
    CAST(DATE_TRUNC('DAY', __time_1) AS DATE) AS __window_day,
    stock_on_hand AS stock_on_hand
  FROM inventory_days
), inventory_window AS (
  SELECT
    *,
    MAX(inventory_by_day.__window_day) OVER (PARTITION BY inventory_by_day.metric_time__month) AS __window_pick
  FROM inventory_by_day
), inventory_agg AS (
  SELECT
    inventory_window.metric_time__month,
    SUM(inventory_window.stock_on_hand) AS stock_on_hand
  FROM inventory_window
  WHERE
    inventory_window.__window_day = inventory_window.__window_pick
  GROUP BY
    inventory_window.metric_time__month
), inventory_days_2 AS (
  SELECT
    src.balance_date AS __time_1,
    src.product_id AS __window_product,
    SUM(src.on_hand) AS latest_stock_per_product
  FROM inventory_read AS src
  GROUP BY
    src.balance_date,
    src.product_id
), inventory_by_day_2 AS (
  SELECT
    DATE_TRUNC('MONTH', __time_1) AS metric_time__month,
    CAST(DATE_TRUNC('DAY', __time_1) AS DATE) AS __window_day,
    __window_product AS __window_product,
    latest_stock_per_product AS latest_stock_per_product
  FROM inventory_days_2
), inventory_window_2 AS (
  SELECT
    *,
    MAX(inventory_by_day_2.__window_day) OVER (
      PARTITION BY inventory_by_day_2.metric_time__month, inventory_by_day_2.__window_product
    ) AS __window_pick
  FROM inventory_by_day_2
), inventory_agg_2 AS (
  SELECT
    inventory_window_2.metric_time__month,
    SUM(inventory_window_2.latest_stock_per_product) AS latest_stock_per_product
  FROM inventory_window_2
  WHERE
    inventory_window_2.__window_day = inventory_window_2.__window_pick
  GROUP BY
    inventory_window_2.metric_time__month
), group_keys AS (
  SELECT
    metric_time__month
  FROM inventory_agg
  UNION
  SELECT
    metric_time__month
  FROM inventory_agg_2
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  inventory_agg.stock_on_hand AS stock_on_hand,
  inventory_agg_2.latest_stock_per_product AS latest_stock_per_product
FROM group_keys
LEFT JOIN inventory_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM inventory_agg.metric_time__month
LEFT JOIN inventory_agg_2
  ON group_keys.metric_time__month IS NOT DISTINCT FROM inventory_agg_2.metric_time__month
