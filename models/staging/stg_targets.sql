-- The finance team's KPI targets: one row per metric, month and org unit (company, store, channel, line).
select
    concat_ws('|', metric_name, org_unit, {{ date_text('period_start') }}) as target_id,
    metric_name,
    period_grain,
    cast(period_start as date) as period_start,
    org_unit,
    case
        when org_unit = 'company' then 'company'
        when s.store_name is not null then 'store'
        when c.channel_name is not null then 'channel'
        when l.line_name is not null then 'production_line'
        else 'department'
    end as org_unit_type,
    cast(target_value as {{ type_double() }}) as target_value,
    cast(weight as {{ type_double() }}) as weight
from {{ ref('targets') }} as t
left join (select distinct store_name from {{ ref('stores') }}) as s on s.store_name = t.org_unit
left join (select distinct channel_name from {{ ref('marketing_channels') }}) as c on c.channel_name = t.org_unit
left join (select distinct line_name from {{ ref('production_lines') }}) as l on l.line_name = t.org_unit
