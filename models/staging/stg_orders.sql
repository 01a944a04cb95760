-- Point-of-sale and web-shop orders, one row per order. The tills sometimes send an order twice (kept once:
-- the latest load) and some sync days late (is_late_arriving). is_repeat_order: the customer ordered before.
with deduplicated as (
    select *
    from (
        select *, row_number() over (partition by order_id order by loaded_at desc) as load_rank
        from {{ ref('orders') }}
    ) as loads
    where load_rank = 1
)

select
    cast(order_id as integer) as order_id,
    cast(customer_id as integer) as customer_id,
    cast(store_id as integer) as store_id,
    cast(ordered_at as date) as ordered_at,
    nullif(trim(promotion), '') as promotion,
    nullif(trim(promotion), '') is not null as on_promotion,
    row_number() over (partition by customer_id order by ordered_at, order_id) > 1 as is_repeat_order,
    cast(loaded_at as timestamp) as loaded_at,
    {{ days_between('ordered_at', 'loaded_at') }} > 1 as is_late_arriving
from deduplicated
