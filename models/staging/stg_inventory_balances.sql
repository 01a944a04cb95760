-- End-of-day units on hand per product and warehouse, valued at standard cost (EUR).
select
    concat_ws('-', cast(b.product_id as {{ dbt.type_string() }}), b.warehouse,
        {{ date_text('b.balance_date', compact=true) }}) as inventory_balance_id,
    cast(b.balance_date as date) as balance_date,
    cast(b.product_id as integer) as product_id,
    b.warehouse,
    cast(b.on_hand_units as integer) as on_hand_units,
    b.on_hand_units * p.unit_cost as inventory_value
from {{ ref('inventory_balances') }} as b
join {{ ref('stg_products') }} as p on p.product_id = b.product_id
