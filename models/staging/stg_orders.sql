-- Point-of-sale and web-shop orders, one row per order. The tills sometimes send an order twice (kept once:
-- the latest load) and some sync days late (is_late_arriving). is_repeat_order: the customer ordered before.
-- Incremental: a run re-selects every order of each customer with an order in the loads since the last run
-- (a late order makes the customer's later orders repeat orders) and replaces them by order_id; a reload
-- that gives an order to another customer re-selects that customer's orders too.
{{ config(materialized=keyed_incremental(), unique_key='order_id', incremental_strategy='delete+insert') }}
with
{% if is_incremental() %}
loaded as (
    select order_id, customer_id from {{ ref('orders') }} where {{ loaded_since_last_run() }}
),

touched_customers as (
    select customer_id from loaded
    union
    select customer_id from {{ this }} where order_id in (select order_id from loaded)
),
{% endif %}

deduplicated as (
    select *
    from (
        select *, row_number() over (partition by order_id order by loaded_at desc) as load_rank
        from {{ ref('orders') }}
        {% if is_incremental() %}
        where order_id in (select order_id from {{ ref('orders') }} where customer_id in (select customer_id from touched_customers))
        {% endif %}
    ) as loads
    where load_rank = 1
    {% if is_incremental() %}
    and customer_id in (select customer_id from touched_customers)  -- each of these customers with all their orders
    {% endif %}
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
