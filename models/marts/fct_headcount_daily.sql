-- One row per employee and day employed, over the days the source systems cover (the order history).
-- Incremental: a run adds the new days, and rebuilds an employee's days from the first one that changes (a
-- corrected hire or leaving date, a transfer: macros/headcount.sql), deleting them first (the pre-hook).
-- Its runs say from which day they rewrite rows (the pre-hook), and its tests check those days; each run also
-- adds that day to fct_headcount_daily_rewrites, from which metric_values recomputes the headcount metrics.
-- depends_on: {{ ref('fct_headcount_daily_rewrites') }}
{{ config(materialized=keyed_incremental(), incremental_strategy='append',
          meta={'metricsctl': {'rewritten_column': 'date_day'}},
          pre_hook="{% if is_incremental() %}{{ headcount_delete_rebuilt() }}{% else %}{{ record_rewritten('fct_headcount_daily_rewrites', '1900-01-01') }}{% endif %}") }}
with days as (
    select date_day
    from {{ ref('metricflow_time_spine') }}
    where date_day between (select min(ordered_at) from {{ ref('stg_orders') }})
        and (select max(ordered_at) from {{ ref('stg_orders') }})
),

employed as (
    select d.date_day, e.employee_id, e.department_id, e.fte
    from days as d
    join {{ ref('stg_employees') }} as e
        on e.hire_date <= d.date_day and (e.termination_date is null or e.termination_date > d.date_day)
    {% if is_incremental() %}
    {#- the new days for everyone, then the corrected employees' earlier days, each from its first rebuilt day:
        the plan the pre-hook wrote (macros/headcount.sql) before this query runs -#}
    where d.date_day > (select coalesce(from_day, cast('1900-01-01' as date)) from {{ headcount_plan() }} as last_held where kind = 0)
    union all
    select d.date_day, e.employee_id, e.department_id, e.fte
    from {{ headcount_plan() }} as p
    join {{ ref('stg_employees') }} as e on e.employee_id = p.employee_id
    join days as d
        on d.date_day >= p.from_day
        and e.hire_date <= d.date_day and (e.termination_date is null or e.termination_date > d.date_day)
    where p.kind = 1
        and d.date_day <= (select coalesce(from_day, cast('1900-01-01' as date)) from {{ headcount_plan() }} as last_held where kind = 0)
    {% endif %}
)

select
    cast(employee_id as {{ dbt.type_string() }}) || '-' || {{ date_text('date_day', compact=true) }} as headcount_day_id,
    date_day,
    employee_id,
    department_id,
    fte
from employed
