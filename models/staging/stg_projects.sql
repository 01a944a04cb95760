select
    cast(project_id as integer) as project_id,
    project_name,
    cast(department_id as integer) as department_id,
    cast(owner_employee_id as integer) as owner_employee_id,
    cast(start_date as date) as start_date,
    cast(due_date as date) as due_date,
    status
from {{ ref('projects') }}
