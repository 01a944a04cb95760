-- The finance team's KPI targets: one row per metric, month and org unit (company, store, channel, line).
select
    concat_ws('|', metric_name, org_unit, strftime(cast(period_start as date), '%Y-%m-%d')) as target_id,
    metric_name,
    period_grain,
    cast(period_start as date) as period_start,
    org_unit,
    case
        when org_unit = 'company' then 'company'
        when org_unit in (select store_name from {{ ref('stores') }}) then 'store'
        when org_unit in (select channel_name from {{ ref('marketing_channels') }}) then 'channel'
        when org_unit in (select line_name from {{ ref('production_lines') }}) then 'production_line'
        else 'department'
    end as org_unit_type,
    cast(target_value as double) as target_value,
    cast(weight as double) as weight
from {{ ref('targets') }}
