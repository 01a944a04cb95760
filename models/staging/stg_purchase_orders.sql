-- Purchase orders for bought-in products, converted from the supplier's currency to EUR at the month's rate.
select
    cast(po.purchase_order_id as integer) as purchase_order_id,
    po.supplier,
    cast(po.product_id as integer) as product_id,
    cast(po.ordered_date as date) as ordered_date,
    cast(po.expected_date as date) as expected_date,
    cast(po.received_date as date) as received_date,
    cast(po.quantity as integer) as quantity,
    po.currency,
    cast(po.unit_cost as {{ type_double() }}) as unit_cost_local,
    {{ round_half_up('po.unit_cost * fx.eur_per_unit', 4) }} as unit_cost_eur,
    {{ round_half_up('po.quantity * po.unit_cost * fx.eur_per_unit', 2) }} as order_value_eur,
    po.received_date is not null as is_received,
    po.received_date is not null and po.received_date <= po.expected_date as is_on_time,
    {{ days_between('po.ordered_date', 'po.received_date') }} as lead_time_days
from {{ ref('purchase_orders') }} as po
left join {{ ref('stg_fx_rates') }} as fx
    on fx.currency = po.currency and fx.month_start = cast({{ dbt.date_trunc('month', 'cast(po.ordered_date as date)') }} as date)
