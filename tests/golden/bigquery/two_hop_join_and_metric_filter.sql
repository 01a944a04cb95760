WITH order_dims AS (
  SELECT
    j_order.order_id AS order_id,
    j_order__customer.region AS customer__region
  FROM `shop`.`main`.`orders` AS j_order
  LEFT JOIN `shop`.`main`.`customers` AS j_order__customer
    ON j_order.customer_id = j_order__customer.customer_id
), order_lines_agg AS (
  SELECT
    j_order.customer__region AS order__customer__region,
    j_product.category AS product__category,
    SUM(src.quantity * src.unit_price) AS revenue,
    COUNT(src.order_line_id) AS line_count,
    SUM(
      CASE WHEN j_order.customer__region = 'north' THEN src.quantity * src.unit_price END
    ) AS revenue__2
  FROM `shop`.`main`.`order_lines` AS src
  LEFT JOIN order_dims AS j_order
    ON src.order_id = j_order.order_id
  LEFT JOIN `shop`.`main`.`products` AS j_product
    ON src.product_id = j_product.product_id
  GROUP BY
    j_order.customer__region,
    j_product.category
)
SELECT
  order_lines_agg.order__customer__region AS order__customer__region,
  order_lines_agg.product__category AS product__category,
  order_lines_agg.revenue AS revenue,
  order_lines_agg.revenue__2 AS north_revenue,
  (
    CAST((
      order_lines_agg.revenue
    ) AS FLOAT64) / NULLIF((
      order_lines_agg.line_count
    ), 0)
  ) AS avg_line_value
FROM order_lines_agg
