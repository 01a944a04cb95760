-- Project tasks, with the project's department; completion flags are relative to the due date.
select
    cast(t.task_id as integer) as task_id,
    cast(t.project_id as integer) as project_id,
    p.department_id,
    cast(t.assignee_employee_id as integer) as assignee_employee_id,
    cast(t.created_date as date) as created_date,
    cast(t.due_date as date) as due_date,
    cast(t.completed_date as date) as completed_date,
    cast(t.estimate_hours as {{ type_double() }}) as estimate_hours,
    t.completed_date is not null as is_completed,
    t.completed_date is not null and t.completed_date <= t.due_date as is_completed_on_time
from {{ ref('tasks') }} as t
join {{ ref('stg_projects') }} as p on p.project_id = t.project_id
