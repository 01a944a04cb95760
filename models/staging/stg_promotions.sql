select
    cast(promotion_id as integer) as promotion_id,
    promotion_code,
    promotion_name,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date,
    cast(discount_pct as {{ type_double() }}) as discount_pct
from {{ ref('promotions') }}
