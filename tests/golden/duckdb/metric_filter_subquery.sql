WITH orders_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    SUM(CASE WHEN (
      metric_filter_1.order_total > 2000
    ) THEN 1 END) AS orders,
    SUM(CASE WHEN src.channel = 'store' THEN src.amount END) AS order_total
  FROM "shop"."main"."orders" AS src
  LEFT JOIN (
    WITH orders_agg AS (
      SELECT
        src.customer_id AS customer,
        SUM(src.amount) AS order_total
      FROM "shop"."main"."orders" AS src
      GROUP BY
        src.customer_id
    )
    SELECT
      orders_agg.customer AS customer,
      orders_agg.order_total AS order_total
    FROM orders_agg
  ) AS metric_filter_1
    ON src.customer_id = metric_filter_1.customer
  WHERE
    (
      (
        metric_filter_1.order_total > 2000
      ) OR src.channel = 'store'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at)
)
SELECT
  orders_agg.metric_time__month AS metric_time__month,
  orders_agg.orders AS orders_from_big_spenders,
  orders_agg.order_total AS store_order_total
FROM orders_agg
