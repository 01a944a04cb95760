-- One row per day, 2023-2026; fiscal years start on 1 February.
select
    cast(d as date) as date_day,
    cast(date_trunc('quarter', d - interval 1 month) + interval 1 month as date) as fiscal_quarter
from range(timestamp '2023-01-01', timestamp '2027-01-01', interval 1 day) as t(d)
