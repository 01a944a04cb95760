-- CRM customers, one row per customer. A missing region becomes 'unknown'.
select
    cast(customer_id as integer) as customer_id,
    coalesce(nullif(trim(region), ''), 'unknown') as region,
    segment,
    cast(signup_date as date) as signup_date,
    cast(sales_rep_id as integer) as sales_rep_id
from {{ ref('customers') }}
