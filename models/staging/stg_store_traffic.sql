-- Footfall per store and day (web sessions for the online shop), flagged with the promotion of the day.
select
    concat_ws('-', cast(t.store_id as {{ dbt.type_string() }}), {{ date_text('t.traffic_date', compact=true) }}) as store_day_id,
    cast(t.traffic_date as date) as traffic_date,
    cast(t.store_id as integer) as store_id,
    cast(t.footfall as integer) as footfall,
    p.promotion_code,
    p.promotion_id is not null as on_promotion
from {{ ref('store_traffic') }} as t
left join {{ ref('stg_promotions') }} as p on cast(t.traffic_date as date) between p.start_date and p.end_date
