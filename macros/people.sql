{#- fct_employee_movements' rows: hires and exits, one row per movement, from the HR system's employees. Its
    pre-hook compares them with the table as it stands (record_changed_rows, macros/rewrites.sql). -#}
{% macro employee_movements() -%}
select
    cast(employee_id as {{ dbt.type_string() }}) || '-hire' as movement_id,
    employee_id,
    department_id,
    hire_date as movement_date,
    'hire' as movement
from {{ ref('stg_employees') }}

union all

select
    cast(employee_id as {{ dbt.type_string() }}) || '-exit' as movement_id,
    employee_id,
    department_id,
    termination_date as movement_date,
    'exit' as movement
from {{ ref('stg_employees') }}
where termination_date is not null
{%- endmacro %}
