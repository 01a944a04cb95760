-- CRM sales reps. A rep without a region yet is 'unassigned'.
select
    cast(sales_rep_id as integer) as sales_rep_id,
    rep_name,
    coalesce(nullif(trim(region), ''), 'unassigned') as region,
    cast(employee_id as integer) as employee_id
from {{ ref('sales_reps') }}
