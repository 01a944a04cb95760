WITH orders_grouped AS (
  SELECT
    src.ordered_at AS ordered_at,
    src.store_id AS store_id,
    SUM(1) AS orders
  FROM "shop"."main"."orders" AS src
  GROUP BY
    src.ordered_at,
    src.store_id
), orders_agg AS (
  SELECT
    j_store.manager AS store__manager,
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    SUM(src.orders) AS orders
  FROM orders_grouped AS src
  LEFT JOIN "shop"."main"."managers" AS j_store
    ON src.store_id = j_store.store_id
    AND src.ordered_at >= j_store.valid_from
    AND (
      src.ordered_at < j_store.valid_to OR j_store.valid_to IS NULL
    )
  GROUP BY
    j_store.manager,
    DATE_TRUNC('MONTH', src.ordered_at)
)
SELECT
  orders_agg.store__manager AS store__manager,
  orders_agg.metric_time__month AS metric_time__month,
  orders_agg.orders AS orders
FROM orders_agg
