-- One row per day, 2023-2026; fiscal years start on 1 February.
with days as (
    {{ dbt.date_spine('day', "cast('2023-01-01' as date)", "cast('2027-01-01' as date)") }}
)

select
    cast(date_day as date) as date_day,
    cast({{ dbt.dateadd('month', 1, dbt.date_trunc('quarter', dbt.dateadd('month', -1, 'date_day'))) }} as date)
        as fiscal_quarter
from days
