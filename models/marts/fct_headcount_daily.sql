-- One row per employee and day employed, over the days the source systems cover (the order history).
with days as (
    select date_day
    from {{ ref('metricflow_time_spine') }}
    where date_day between (select min(ordered_at) from {{ ref('stg_orders') }})
        and (select max(ordered_at) from {{ ref('stg_orders') }})
)

select
    cast(e.employee_id as {{ dbt.type_string() }}) || '-' || {{ date_text('d.date_day', compact=true) }} as headcount_day_id,
    d.date_day,
    e.employee_id,
    e.department_id,
    e.fte
from days as d
join {{ ref('stg_employees') }} as e
    on e.hire_date <= d.date_day and (e.termination_date is null or e.termination_date > d.date_day)
