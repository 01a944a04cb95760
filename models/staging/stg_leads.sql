-- CRM leads, with the customer a converted lead became.
select
    cast(lead_id as integer) as lead_id,
    cast(created_date as date) as created_date,
    source_channel,
    coalesce(nullif(trim(region), ''), 'unknown') as region,
    cast(is_converted as boolean) as is_converted,
    cast(converted_date as date) as converted_date,
    cast(customer_id as integer) as customer_id,
    {{ days_between('created_date', 'converted_date') }} as days_to_convert
from {{ ref('leads') }}
