WITH inventory_days AS (
  SELECT
    src.balance_date AS __time_1,
    j_product.category AS product__category,
    SUM(src.on_hand) AS stock_on_hand
  FROM `shop`.`main`.`inventory_balances` AS src
  LEFT JOIN `shop`.`main`.`products` AS j_product
    ON src.product_id = j_product.product_id
  GROUP BY
    src.balance_date,
    j_product.category
), inventory_by_day AS (
  SELECT
    DATE_TRUNC('MONTH', __time_1) AS metric_time__month,
    product__category AS product__category,
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
    inventory_window.product__category,
    SUM(inventory_window.stock_on_hand) AS stock_on_hand
  FROM inventory_window
  WHERE
    inventory_window.__window_day = inventory_window.__window_pick
  GROUP BY
    inventory_window.metric_time__month,
    inventory_window.product__category
), inventory_agg_2 AS (
  SELECT
    DATE_TRUNC('MONTH', src.balance_date) AS metric_time__month,
    j_product.category AS product__category,
    COUNT(DISTINCT src.balance_date) AS counted_days
  FROM `shop`.`main`.`inventory_balances` AS src
  LEFT JOIN `shop`.`main`.`products` AS j_product
    ON src.product_id = j_product.product_id
  GROUP BY
    DATE_TRUNC('MONTH', src.balance_date),
    j_product.category
), combined AS (
  SELECT
    metric_time__month,
    product__category,
    MAX(stock_on_hand) AS stock_on_hand,
    MAX(counted_days) AS counted_days
  FROM (
    SELECT
      inventory_agg.metric_time__month,
      inventory_agg.product__category,
      inventory_agg.stock_on_hand,
      NULL AS counted_days
    FROM inventory_agg
    UNION ALL
    SELECT
      inventory_agg_2.metric_time__month,
      inventory_agg_2.product__category,
      NULL AS stock_on_hand,
      inventory_agg_2.counted_days
    FROM inventory_agg_2
  ) AS stacked
  GROUP BY
    metric_time__month,
    product__category
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.product__category AS product__category,
  combined.stock_on_hand AS stock_on_hand,
  combined.counted_days AS days_counted
FROM combined
