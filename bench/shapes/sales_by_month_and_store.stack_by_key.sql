-- Shape: every scan grouped on the foreign key (store_id) instead of the joined store name, the scans
-- stacked (UNION ALL) rather than joined, stg_stores joined once to the stacked aggregates and the final
-- GROUP BY folding ids into names (see store_traffic_by_day.stack_by_key.sql).
WITH order_lines_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    src.store_id AS __key_store,
    SUM(src.quantity * src.net_unit_price) AS revenue,
    SUM(src.quantity * src.unit_cost) AS cost_of_goods
  FROM stg_order_lines AS src
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    src.store_id
), orders_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    src.store_id AS __key_store,
    COUNT(src.order_id) AS orders
  FROM stg_orders AS src
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at),
    src.store_id
), stacked AS (
  SELECT metric_time__month, __key_store, revenue, cost_of_goods, NULL AS orders
  FROM order_lines_agg
  UNION ALL
  SELECT metric_time__month, __key_store, NULL, NULL, orders
  FROM orders_agg
), combined AS (
  SELECT
    stacked.metric_time__month,
    j_store.store_name AS store__store_name,
    SUM(stacked.revenue) AS revenue,
    SUM(stacked.cost_of_goods) AS cost_of_goods,
    SUM(stacked.orders) AS orders
  FROM stacked
  LEFT JOIN stg_stores AS j_store
    ON stacked.__key_store = j_store.store_id
  GROUP BY
    stacked.metric_time__month,
    j_store.store_name
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.store__store_name AS store__store_name,
  combined.revenue AS revenue,
  combined.orders AS orders,
  CAST(combined.revenue AS DOUBLE) / CAST(NULLIF(combined.orders, 0) AS DOUBLE) AS average_order_value,
  (
    100 * (
      (
        (
          combined.revenue
        ) - (
          combined.cost_of_goods
        )
      )
    ) / (
      combined.revenue
    )
  ) AS gross_margin_pct
FROM combined
ORDER BY
  metric_time__month ASC,
  store__store_name ASC
