WITH orders_values AS (
  SELECT DISTINCT
    src.channel AS order__channel,
    j_customer.region AS customer__region
  FROM "shop"."main"."orders" AS src
  LEFT JOIN "shop"."main"."customers" AS j_customer
    ON src.customer_id = j_customer.customer_id
  WHERE
    src.channel = 'online'
)
SELECT
  orders_values.order__channel AS order__channel,
  orders_values.customer__region AS customer__region
FROM orders_values
