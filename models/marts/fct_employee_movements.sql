-- Hires and exits, one row per movement.
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
