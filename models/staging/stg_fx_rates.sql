-- EUR per unit of a currency, per month.
select
    currency || '-' || strftime(cast(month_start as date), '%Y-%m') as fx_rate_id,
    cast(month_start as date) as month_start,
    currency,
    cast(eur_per_unit as double) as eur_per_unit
from {{ ref('fx_rates') }}
