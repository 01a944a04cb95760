-- Point-of-sale and web-shop orders, one row per order.
select
    cast(order_id as integer) as order_id,
    cast(customer_id as integer) as customer_id,
    cast(store_id as integer) as store_id,
    cast(ordered_at as date) as ordered_at,
    nullif(trim(promotion), '') as promotion
from {{ ref('orders') }}
