select
    cast(channel_id as integer) as channel_id,
    channel_name,
    channel_group,
    billing_currency
from {{ ref('marketing_channels') }}
