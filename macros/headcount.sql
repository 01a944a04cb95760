{#- The relation holding which rows of fct_headcount_daily an incremental run rebuilds: a temporary table of the
    run's connection, one row (kind 0, from_day: the last day the table holds, or NULL when it is empty: every
    later day is new, for every employee) and one row per employee whose days are rebuilt from `from_day` (kind 1).

    The table is one row per employee and day employed over the order history's days, so an employee's rows
    up to the table's last day are fixed by their first and last day there, their department and their FTE.
    An employee whose rows disagree with what stg_employees and the span say now (a corrected hire or leaving
    date, a transfer, an FTE change, an employee added or removed) is rebuilt from the earliest day either
    side has for them, or, when only the last day moved, from the earlier of the two last days. The pre-hook
    writes it (`headcount_write_plan`), reading the table as it stands; the delete and the model's query read it.
    Outside a run (`dbt compile`, `dbt show`: no pre-hook ran) the model's query reads the plan's query instead. -#}
{% macro headcount_plan() -%}
    {%- if flags.WHICH in ('run', 'build', 'retry') -%}
        {{- headcount_plan_table() -}}
    {%- else -%}
        ({{ headcount_plan_query() }})
    {%- endif -%}
{%- endmacro %}

{% macro headcount_plan_table() -%}
    {{- this.identifier ~ '__rebuild_plan' -}}
{%- endmacro %}

{% macro headcount_write_plan() -%}
    {%- set temporary = {'duckdb': 'temp.main.', 'postgres': 'pg_temp.'}.get(target.type) -%}
    {%- if temporary -%}  {#- one left by an earlier run on this connection; never a table of the same name -#}
        {%- do run_query('drop table if exists ' ~ temporary ~ headcount_plan_table()) -%}
    {%- endif -%}
    {%- do run_query('create temporary table ' ~ headcount_plan_table() ~ ' as ' ~ headcount_plan_query()) -%}
{%- endmacro %}

{% macro headcount_plan_query() -%}
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
{%- endmacro %}

{#- What the plan holds, as literals: {'after': the table's last day ('1900-01-01' when it is empty),
    'first': the earliest day a corrected employee is rebuilt from (none when nobody is)}. -#}
{% macro headcount_plan_bounds() -%}
    {%- set row = run_query('select max(case when kind = 0 then from_day end), min(case when kind = 1 then from_day end) '
                            ~ 'from ' ~ headcount_plan_table()).rows[0] -%}
    {{- return({'after': '1900-01-01' if row[0] is none else (row[0] | string)[:10],
                'first': none if row[1] is none else (row[1] | string)[:10]}) -}}
{%- endmacro %}

{#- The pre-hook of fct_headcount_daily's incremental runs: write the plan, delete the rows the run rebuilds, and
    say from which day it rewrites them, so that its tests check those days (announce_rewritten, macros/checks.sql).
    The delete names its days as literals, so that the warehouse skips the blocks of older days. -#}
{% macro headcount_delete_rebuilt() -%}
    {%- if execute -%}
        {%- do headcount_write_plan() -%}
        {%- set bounds = headcount_plan_bounds() -%}
    {%- else -%}
        {%- set bounds = {'after': '1900-01-01', 'first': none} -%}
    {%- endif -%}
    {%- set first = [bounds.after, bounds.first] | reject('none') | min -%}
    {%- if execute -%}{%- do announce_rewritten('date_day', first) -%}{%- endif -%}
    {{ record_rewritten('fct_headcount_daily_rewrites', first) }}
    delete from {{ this }} as held
    where held.date_day > cast('{{ bounds.after }}' as date)
    {%- if bounds.first is not none %}
        or (held.date_day >= cast('{{ bounds.first }}' as date) and exists (
            select 1 from {{ headcount_plan_table() }} as p
            where p.kind = 1 and p.employee_id = held.employee_id and held.date_day >= p.from_day))
    {%- endif %}
{%- endmacro %}
