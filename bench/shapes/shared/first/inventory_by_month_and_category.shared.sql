-- Shape: shared rows
WITH inventory_balances_rows AS MATERIALIZED (
  SELECT
    src.balance_date,
    src.on_hand_units,
    src.inventory_value,
    src.product_id
  FROM "warehouse"."main"."stg_inventory_balances" AS src
  WHERE
    src.balance_date >= CAST('1900-01-01' AS DATE)
), inventory_balances_days AS (
  SELECT
    src.balance_date AS __time_1,
    j_product.category AS product__category,
    SUM(src.on_hand_units) AS inventory_units,
    SUM(src.inventory_value) AS inventory_value
  FROM inventory_balances_rows AS src
  LEFT JOIN "warehouse"."main"."stg_products" AS j_product
    ON src.product_id = j_product.product_id
  GROUP BY
    src.balance_date,
    j_product.category
), inventory_balances_by_day AS (
  SELECT
    DATE_TRUNC('MONTH', __time_1) AS metric_time__month,
    product__category AS product__category,
    CAST(DATE_TRUNC('DAY', __time_1) AS DATE) AS __window_day,
    inventory_units AS inventory_units,
    inventory_value AS inventory_value
  FROM inventory_balances_days
), inventory_balances_window AS (
  SELECT
    *,
    MAX(inventory_balances_by_day.__window_day) OVER (PARTITION BY inventory_balances_by_day.metric_time__month) AS __window_pick
  FROM inventory_balances_by_day
), inventory_balances_agg AS (
  SELECT
    inventory_balances_window.metric_time__month,
    inventory_balances_window.product__category,
    SUM(inventory_balances_window.inventory_units) AS inventory_units,
    SUM(inventory_balances_window.inventory_value) AS inventory_value
  FROM inventory_balances_window
  WHERE
    inventory_balances_window.__window_day = inventory_balances_window.__window_pick
  GROUP BY
    inventory_balances_window.metric_time__month,
    inventory_balances_window.product__category
), order_lines_grouped AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS __time_1,
    src.product_id AS product_id,
    SUM(src.quantity * src.unit_cost) AS cost_of_goods
  FROM "warehouse"."main"."stg_order_lines" AS src
  WHERE
    src.ordered_at >= CAST('1900-01-01' AS DATE)
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    src.product_id
), order_lines_agg AS (
  SELECT
    src.__time_1 AS metric_time__month,
    j_product.category AS product__category,
    SUM(src.cost_of_goods) AS cost_of_goods
  FROM order_lines_grouped AS src
  LEFT JOIN "warehouse"."main"."stg_products" AS j_product
    ON src.product_id = j_product.product_id
  GROUP BY
    src.__time_1,
    j_product.category
), inventory_balances_agg_2 AS (
  SELECT
    DATE_TRUNC('MONTH', src.balance_date) AS metric_time__month,
    j_product.category AS product__category,
    COUNT(DISTINCT src.balance_date) AS inventory_days
  FROM inventory_balances_rows AS src
  LEFT JOIN "warehouse"."main"."stg_products" AS j_product
    ON src.product_id = j_product.product_id
  GROUP BY
    DATE_TRUNC('MONTH', src.balance_date),
    j_product.category
), combined AS (
  SELECT
    metric_time__month,
    product__category,
    MAX(inventory_units) AS inventory_units,
    MAX(inventory_value) AS inventory_value,
    MAX(cost_of_goods) AS cost_of_goods,
    MAX(inventory_days) AS inventory_days
  FROM (
    SELECT
      inventory_balances_agg.metric_time__month,
      inventory_balances_agg.product__category,
      inventory_balances_agg.inventory_units,
      inventory_balances_agg.inventory_value,
      NULL AS cost_of_goods,
      NULL AS inventory_days
    FROM inventory_balances_agg
    UNION ALL
    SELECT
      order_lines_agg.metric_time__month,
      order_lines_agg.product__category,
      NULL AS inventory_units,
      NULL AS inventory_value,
      order_lines_agg.cost_of_goods,
      NULL AS inventory_days
    FROM order_lines_agg
    UNION ALL
    SELECT
      inventory_balances_agg_2.metric_time__month,
      inventory_balances_agg_2.product__category,
      NULL AS inventory_units,
      NULL AS inventory_value,
      NULL AS cost_of_goods,
      inventory_balances_agg_2.inventory_days
    FROM inventory_balances_agg_2
  ) AS stacked
  GROUP BY
    metric_time__month,
    product__category
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.product__category AS product__category,
  combined.inventory_units AS inventory_units,
  combined.inventory_value AS inventory_value,
  combined.cost_of_goods AS cost_of_goods,
  (
    CAST((
      combined.inventory_value
    ) * (
      combined.inventory_days
    ) AS DOUBLE) / NULLIF((
      combined.cost_of_goods
    ), 0)
  ) AS inventory_turnover_days
FROM combined
ORDER BY
  metric_time__month ASC,
  product__category ASC
