-- EUR per unit of a currency, per month.
select
    currency || '-' || substr({{ date_text('month_start') }}, 1, 7) as fx_rate_id,
    cast(month_start as date) as month_start,
    currency,
    cast(eur_per_unit as {{ type_double() }}) as eur_per_unit
from {{ ref('fx_rates') }}
