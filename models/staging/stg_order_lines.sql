-- Order lines with net price and unit cost, ready for revenue and margin measures. A discount the till did
-- not record is the promotion's discount on promotion days and none otherwise.
-- Incremental: a run replaces the lines of the orders loaded since the last run (by order_id, so an order
-- reloaded with other lines keeps only those); loaded_at is the order's load.
-- depends_on: {{ ref('orders') }}
{{ config(materialized=keyed_incremental(), unique_key='order_id', incremental_strategy='delete+insert') }}
select
    l.order_line_id,
    l.order_id,
    l.product_id,
    o.ordered_at,
    o.store_id,
    o.customer_id,
    l.quantity,
    cast(l.unit_price as {{ type_double() }}) as unit_price,
    coalesce(l.discount_per_unit, {{ round_half_up('l.unit_price * coalesce(pr.discount_pct, 0)', 2) }}) as discount_per_unit,
    l.discount_per_unit is null as discount_was_missing,
    l.unit_price - coalesce(l.discount_per_unit, {{ round_half_up('l.unit_price * coalesce(pr.discount_pct, 0)', 2) }})
        as net_unit_price,
    p.unit_cost,
    o.on_promotion,
    o.loaded_at
from {{ ref('order_lines') }} as l
join {{ ref('stg_orders') }} as o on o.order_id = l.order_id
join {{ ref('stg_products') }} as p on p.product_id = l.product_id
left join {{ ref('stg_promotions') }} as pr
    on pr.promotion_code = o.promotion and o.ordered_at between pr.start_date and pr.end_date
{% if is_incremental() %}
where l.order_id in (select order_id from {{ ref('orders') }} where {{ loaded_since_last_run() }})
{% endif %}
