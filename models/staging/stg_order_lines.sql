-- Order lines with net price and unit cost, ready for revenue and margin measures.
select
    l.order_line_id,
    l.order_id,
    l.product_id,
    o.ordered_at,
    o.store_id,
    o.customer_id,
    l.quantity,
    l.unit_price - l.discount_per_unit as net_unit_price,
    p.unit_cost,
    o.promotion is not null as on_promotion
from {{ ref('order_lines') }} as l
join {{ ref('stg_orders') }} as o on o.order_id = l.order_id
join {{ ref('products') }} as p on p.product_id = l.product_id
