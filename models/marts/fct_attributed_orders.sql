-- Orders attributed to marketing (last click), with the order's revenue and gross profit, for ROI by channel.
-- Incremental: attributions land with their order, so a run replaces those of the orders loaded since the
-- last run (by order_id); loaded_at is the order's load. Written in the order's time order: an incremental
-- export reads only its last weeks (`ordered_at >= <first day>`), and DuckDB then skips the row groups before
-- them (a run appends its orders, all recent, after them).
-- depends_on: {{ ref('orders') }}
{{ config(materialized=keyed_incremental(), unique_key='order_id', incremental_strategy='delete+insert') }}
with
{% if is_incremental() %}
loaded as (
    select order_id from {{ ref('orders') }} where {{ loaded_since_last_run() }}
),
{% endif %}

order_totals as (
    select
        order_id,
        sum(quantity * net_unit_price) as revenue,
        sum(quantity * unit_cost) as cost_of_goods
    from {{ ref('stg_order_lines') }}
    {% if is_incremental() %}
    where order_id in (select order_id from loaded)
    {% endif %}
    group by order_id
)

select
    a.order_id,
    a.campaign_id,
    a.channel_id,
    a.attribution_model,
    o.ordered_at,
    o.customer_id,
    o.store_id,
    coalesce(t.revenue, 0) as attributed_revenue,
    coalesce(t.cost_of_goods, 0) as attributed_cost_of_goods,
    coalesce(t.revenue, 0) - coalesce(t.cost_of_goods, 0) as attributed_gross_profit,
    o.loaded_at
from {{ ref('stg_attributed_orders') }} as a
join {{ ref('stg_orders') }} as o on o.order_id = a.order_id
left join order_totals as t on t.order_id = a.order_id
{% if is_incremental() %}
where a.order_id in (select order_id from loaded)
{% endif %}
order by o.ordered_at
