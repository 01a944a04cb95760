select
    cast(department_id as integer) as department_id,
    department_name,
    cast(parent_department_id as integer) as parent_department_id,
    cost_center
from {{ ref('departments') }}
