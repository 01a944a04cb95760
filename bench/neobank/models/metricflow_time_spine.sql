-- One row per day of the period the raw tables cover, 2024-01-01 .. 2025-12-31: windows and to-date
-- metrics end where the data ends.
with days as (
    {{ dbt.date_spine('day', "cast('2024-01-01' as date)", "cast('2026-01-01' as date)") }}
)

select cast(date_day as date) as date_day
from days
