-- Orders attributed to a campaign and its channel (last click), with the load of their order (loaded_at).
-- Incremental: attributions land with their order (the source carries no load time of its own), so a run
-- replaces those of the orders loaded since the last run (by order_id), as fct_attributed_orders does. An
-- attribution whose order is in no load (loaded_at NULL: its relationships test fails) is selected again by
-- every run, so the table holds it as a full refresh does.
-- depends_on: {{ ref('orders') }}
{{ config(materialized=keyed_incremental(), unique_key='order_id', incremental_strategy='delete+insert') }}
select
    cast(a.order_id as integer) as order_id,
    cast(a.campaign_id as integer) as campaign_id,
    cast(a.channel_id as integer) as channel_id,
    a.attribution_model,
    o.loaded_at
from {{ ref('attributed_orders') }} as a
left join {{ ref('stg_orders') }} as o on o.order_id = cast(a.order_id as integer)
{% if is_incremental() %}
where a.order_id in (select order_id from {{ ref('orders') }} where {{ loaded_since_last_run() }})
    or o.order_id is null
{% endif %}
