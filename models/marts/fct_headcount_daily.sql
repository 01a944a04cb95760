-- One row per employee and day employed, over the days the source systems cover (the order history).
-- Incremental: a run adds the new days, and rebuilds an employee's days from the first one that changes (a
-- corrected hire or leaving date, a transfer: macros/headcount.sql), deleting them first (the pre-hook).
-- Its runs say from which day they rewrite rows (the pre-hook), and its tests check those days; each run also
-- adds that day to fct_headcount_daily_rewrites, from which metric_values recomputes the headcount metrics.
-- depends_on: {{ ref('fct_headcount_daily_rewrites') }}
{{ config(materialized=keyed_incremental(), incremental_strategy='append',
          meta={'metricsctl': {'rewritten_column': 'date_day'}},
          pre_hook="{% if is_incremental() %}{{ headcount_delete_rebuilt() }}{% else %}{{ record_rewritten('fct_headcount_daily_rewrites', '1900-01-01') }}{% endif %}") }}
{% set plan = headcount_rebuild_plan() if is_incremental() else none %}
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
    {% if plan is not none %}
    {#- the new days for everyone, apart from the corrected employees' earlier days: each join is then small -#}
    where d.date_day > cast('{{ plan.after }}' as date)
    union all
    select d.date_day, e.employee_id, e.department_id, e.fte
    from days as d
    join {{ ref('stg_employees') }} as e
        on e.hire_date <= d.date_day and (e.termination_date is null or e.termination_date > d.date_day)
    where d.date_day <= cast('{{ plan.after }}' as date)
        and {{ headcount_rebuilt(plan, 'd.date_day', 'e.employee_id', new_days=false) }}
    {% endif %}
)

select
    cast(employee_id as {{ dbt.type_string() }}) || '-' || {{ date_text('date_day', compact=true) }} as headcount_day_id,
    date_day,
    employee_id,
    department_id,
    fte
from employed
