-- Departments with their place in the org hierarchy: parent, division (the level below the company) and path.
with recursive tree as (
    select
        department_id,
        department_name,
        parent_department_id,
        cost_center,
        0 as depth,
        department_name as division,
        department_name as path
    from {{ ref('stg_departments') }}
    where parent_department_id is null

    union all

    select
        d.department_id,
        d.department_name,
        d.parent_department_id,
        d.cost_center,
        t.depth + 1,
        case when t.depth = 0 then d.department_name else t.division end,
        t.path || ' > ' || d.department_name
    from {{ ref('stg_departments') }} as d
    join tree as t on d.parent_department_id = t.department_id
)

select
    t.department_id,
    t.department_name,
    t.parent_department_id,
    p.department_name as parent_department_name,
    t.division,
    t.depth,
    t.path,
    t.cost_center
from tree as t
left join {{ ref('stg_departments') }} as p on p.department_id = t.parent_department_id
