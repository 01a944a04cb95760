select
    cast(campaign_id as integer) as campaign_id,
    campaign_name,
    cast(channel_id as integer) as channel_id,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date,
    objective
from {{ ref('campaigns') }}
