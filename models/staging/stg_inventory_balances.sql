-- End-of-day units on hand per product and warehouse, valued at standard cost (EUR).
-- Incremental by date: a product's balance for a day is one row (inventory_balance_id: product, warehouse,
-- day) that the ERP sends the morning after and may send again, corrected, within 10 days. The source
-- carries no load time, so a run rebuilds the days from the latest day the table holds minus 10: it deletes
-- them (the pre-hook) and selects them again from the source, whatever they hold now (macros/portable.sql).
{{ config(materialized=keyed_incremental(), incremental_strategy='append',
          meta={'metricsctl': {'lookback_column': 'balance_date', 'lookback_days': 10}},
          pre_hook="{% if is_incremental() %}{{ lookback_delete() }}{% endif %}") }}
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
{% if is_incremental() %}
where {{ lookback_rebuilt('cast(b.balance_date as date)') }}
{% endif %}
