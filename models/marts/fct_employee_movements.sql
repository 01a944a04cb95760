-- Hires and exits, one row per movement.
select
    employee_id || '-hire' as movement_id,
    employee_id,
    department_id,
    hire_date as movement_date,
    'hire' as movement
from {{ ref('stg_employees') }}

union all

select
    employee_id || '-exit' as movement_id,
    employee_id,
    department_id,
    termination_date as movement_date,
    'exit' as movement
from {{ ref('stg_employees') }}
where termination_date is not null
