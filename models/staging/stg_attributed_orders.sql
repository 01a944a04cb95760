-- Orders attributed to a campaign and its channel (last click).
select
    cast(order_id as integer) as order_id,
    cast(campaign_id as integer) as campaign_id,
    cast(channel_id as integer) as channel_id,
    attribution_model
from {{ ref('attributed_orders') }}
