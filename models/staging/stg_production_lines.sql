select
    cast(production_line_id as integer) as production_line_id,
    line_name,
    site
from {{ ref('production_lines') }}
