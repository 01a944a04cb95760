select
    cast(employee_id as integer) as employee_id,
    full_name,
    cast(department_id as integer) as department_id,
    cast(manager_id as integer) as manager_id,
    job_title,
    cast(hire_date as date) as hire_date,
    cast(termination_date as date) as termination_date,
    cast(fte as {{ type_double() }}) as fte
from {{ ref('employees') }}
