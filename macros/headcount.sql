{#- Which rows of fct_headcount_daily an incremental run rebuilds: {'after': the last day the table holds
    (every later day is new, for every employee), 'employees': [(employee_id, first day to rebuild), ...]}.

    The table is one row per employee and day employed over the order history's days, so an employee's rows
    up to the table's last day are fixed by their first and last day there, their department and their FTE.
    An employee whose rows disagree with what stg_employees and the span say now (a corrected hire or leaving
    date, a transfer, an FTE change, an employee added or removed) is rebuilt from the earliest day either
    side has for them, or, when only the last day moved, from the earlier of the two last days. Past
    `max_employees` such employees, every employee is rebuilt from the earliest of those days. The same query
    runs before the model's query and again in its pre-hook (the delete): both read the table as it stands. -#}
{% macro headcount_rebuild_plan(max_employees=200) -%}
    {%- if not execute -%}{{ return({'after': none, 'employees': []}) }}{%- endif -%}
    {%- set query -%}
        with span as (
            select cast(min(ordered_at) as date) as first_day, cast(max(ordered_at) as date) as last_day
            from {{ ref('stg_orders') }}
        ),
        held as (
            select
                employee_id,
                min(date_day) as first_day,
                max(date_day) as last_day,
                count(*) as days,
                min(department_id) as department_id,
                max(department_id) as max_department_id,
                min(fte) as fte,
                max(fte) as max_fte
            from {{ this }}
            group by employee_id
        ),
        held_span as (
            select max(last_day) as last_day from held
        ),
        employed as (  -- each employee's days in the span, up to the table's last day
            select
                e.employee_id,
                case when e.hire_date > s.first_day then e.hire_date else s.first_day end as first_day,
                case when e.termination_date is not null and e.termination_date <= s.last_day
                    then e.termination_date - 1 else s.last_day end as last_day,
                e.department_id,
                e.fte
            from {{ ref('stg_employees') }} as e
            cross join span as s
        ),
        wanted as (
            select
                w.employee_id,
                w.first_day,
                case when w.last_day > h.last_day then h.last_day else w.last_day end as last_day,
                w.department_id,
                w.fte
            from employed as w
            cross join held_span as h
            where w.first_day <= w.last_day and w.first_day <= h.last_day
        ),
        changed as (
            select
                coalesce(h.employee_id, w.employee_id) as employee_id,
                case
                    when h.employee_id is null then w.first_day
                    when w.employee_id is null then h.first_day
                    when h.first_day <> w.first_day
                        or h.department_id is distinct from w.department_id
                        or h.max_department_id is distinct from w.department_id
                        or h.fte is distinct from w.fte
                        or h.max_fte is distinct from w.fte
                        or h.days <> {{ days_between('h.first_day', 'h.last_day') }} + 1
                        then case when h.first_day < w.first_day then h.first_day else w.first_day end
                    when h.last_day <> w.last_day
                        then case when h.last_day < w.last_day then h.last_day else w.last_day end
                end as from_day
            from held as h
            full outer join wanted as w on w.employee_id = h.employee_id
        )
        select 0 as kind, cast(null as integer) as employee_id, last_day as from_day from held_span
        union all
        select 1 as kind, employee_id, from_day from changed where from_day is not null
        order by 1, 2
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- set after = rows[0][2] -%}
    {%- if after is none -%}  {#- an empty table: every day is new -#}
        {{ return({'after': '1900-01-01', 'employees': []}) }}
    {%- endif -%}
    {%- set employees = [] -%}
    {%- for row in rows[1:] -%}
        {%- do employees.append((row[1] | int, (row[2] | string)[:10])) -%}
    {%- endfor -%}
    {%- if employees | length > max_employees -%}
        {%- set earliest = employees | map(attribute=1) | min -%}
        {{ return({'after': (after | string)[:10], 'employees': [], 'from': earliest}) }}
    {%- endif -%}
    {{ return({'after': (after | string)[:10], 'employees': employees}) }}
{%- endmacro %}

{#- A condition on a row (its `day` and `employee` columns) that holds for the rows `plan` rebuilds; `new_days=false`
    leaves out the days after the table's last day. -#}
{% macro headcount_rebuilt(plan, day, employee, new_days=true) -%}
    {%- set parts = [] -%}
    {%- if new_days -%}
        {%- do parts.append(day ~ " > cast('" ~ plan.after ~ "' as date)") -%}
    {%- endif -%}
    {%- if plan.get('from') -%}
        {%- do parts.append(day ~ " >= cast('" ~ plan['from'] ~ "' as date)") -%}
    {%- endif -%}
    {%- for employee_id, first_day in plan.employees -%}
        {%- do parts.append("(" ~ employee ~ " = " ~ employee_id ~ " and " ~ day ~ " >= cast('" ~ first_day ~ "' as date))") -%}
    {%- endfor -%}
    {{- "(" ~ (parts | join(" or ")) ~ ")" if parts else "1 = 0" -}}
{%- endmacro %}

{#- The earliest day whose rows `plan` rewrites ('YYYY-MM-DD'): the table's last day (the new days come after
    it) or an earlier first day of a corrected employee. -#}
{% macro headcount_first_rebuilt(plan) -%}
    {%- set days = [plan.after] + (plan.employees | map(attribute=1) | list) -%}
    {%- if plan.get('from') -%}
        {%- do days.append((plan['from'] | string)[:10]) -%}
    {%- endif -%}
    {{- return(days | min) -}}
{%- endmacro %}

{#- The pre-hook of fct_headcount_daily's incremental runs: delete the rows the run rebuilds, and say from which
    day it rewrites them, so that its tests check those days (announce_rewritten, macros/checks.sql). -#}
{% macro headcount_delete_rebuilt() -%}
    {%- set plan = headcount_rebuild_plan() -%}
    {%- if execute -%}{%- do announce_rewritten('date_day', headcount_first_rebuilt(plan)) -%}{%- endif -%}
    {{ record_rewritten('fct_headcount_daily_rewrites', headcount_first_rebuilt(plan)) }}
    delete from {{ this }} where {{ headcount_rebuilt(plan, 'date_day', 'employee_id') }}
{%- endmacro %}
