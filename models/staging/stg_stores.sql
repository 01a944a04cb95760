-- Stores and the online shop.
select
    cast(store_id as integer) as store_id,
    store_name,
    region,
    channel,
    cast(opened_date as date) as opened_date,
    cast(sales_area_m2 as integer) as sales_area_m2
from {{ ref('stores') }}
