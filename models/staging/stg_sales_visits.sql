-- Sales visits: a rep visits a business customer. visit_date is typed by hand in the CRM: besides ISO dates
-- it holds day/month/year ('05/03/2024') and day-month swaps ('2024-13-05' for 13 May 2024); both are
-- repaired, anything else would become NULL (and fail the not_null test).
with source as (
    select *, cast(visit_date as varchar) as visit_date_text
    from {{ ref('sales_visits') }}
),

parsed as (
    select
        *,
        coalesce(
            try_strptime(visit_date_text, '%Y-%m-%d'),
            try_strptime(visit_date_text, '%d/%m/%Y'),
            try_strptime(visit_date_text, '%Y-%d-%m')
        ) as visit_ts
    from source
)

select
    cast(visit_id as integer) as visit_id,
    cast(sales_rep_id as integer) as sales_rep_id,
    cast(customer_id as integer) as customer_id,
    cast(visit_ts as date) as visit_date,
    visit_type,
    cast(duration_minutes as integer) as duration_minutes,
    try_strptime(visit_date_text, '%Y-%m-%d') is null as visit_date_repaired
from parsed
