-- Products (SKUs) with their standard unit cost in EUR; made on a production line or bought in.
select
    cast(p.product_id as integer) as product_id,
    p.sku,
    p.product_name,
    p.category,
    cast(p.list_price as {{ type_double() }}) as list_price,
    cast(p.unit_cost as {{ type_double() }}) as unit_cost,
    cast(p.production_line_id as integer) as production_line_id,
    case when p.production_line_id is null then 'bought' else 'made' end as sourcing,
    coalesce(l.line_name, 'bought in') as production_line
from {{ ref('products') }} as p
left join {{ ref('production_lines') }} as l on l.production_line_id = p.production_line_id
