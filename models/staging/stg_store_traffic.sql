-- Footfall per store and day (web sessions for the online shop), flagged with the promotion of the day.
-- Incremental by date: a store's footfall for a day is one row (store_day_id: store, day) that the counters
-- send the morning after and may send late, or corrected, within 10 days. The source carries no load time,
-- so a run rebuilds the days from the latest day the table holds minus 10: it deletes them (the pre-hook)
-- and selects them again from the source, whatever they hold now (macros/portable.sql).
{{ config(materialized=keyed_incremental(), incremental_strategy='append',
          meta={'metricsctl': {'lookback_column': 'traffic_date', 'lookback_days': 10}},
          pre_hook="{% if is_incremental() %}{{ lookback_delete() }}{% endif %}") }}
select
    concat_ws('-', cast(t.store_id as {{ dbt.type_string() }}), {{ date_text('t.traffic_date', compact=true) }}) as store_day_id,
    cast(t.traffic_date as date) as traffic_date,
    cast(t.store_id as integer) as store_id,
    cast(t.footfall as integer) as footfall,
    p.promotion_code,
    p.promotion_id is not null as on_promotion
from {{ ref('store_traffic') }} as t
left join {{ ref('stg_promotions') }} as p on cast(t.traffic_date as date) between p.start_date and p.end_date
{% if is_incremental() %}
where {{ lookback_rebuilt('cast(t.traffic_date as date)') }}
{% endif %}
