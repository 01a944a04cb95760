-- Floor for the export channel_roi_by_week: one aggregate per source on (week, channel id), names joined last.
with spend as (
    select date_trunc('week', spend_date) as week, channel_id, sum(spend_eur) as marketing_spend
    from stg_campaign_spend
    group by all
), attributed as (
    select date_trunc('week', ordered_at) as week, channel_id,
           count(order_id) as attributed_orders, sum(attributed_revenue) as attributed_revenue,
           sum(attributed_gross_profit) as attributed_gross_profit
    from fct_attributed_orders
    group by all
)
select week as metric_time__week, c.channel_name as channel__channel_name,
       s.marketing_spend, a.attributed_orders, a.attributed_revenue, a.attributed_gross_profit,
       a.attributed_gross_profit / nullif(s.marketing_spend, 0) as channel_roi,
       a.attributed_revenue / nullif(s.marketing_spend, 0) as return_on_ad_spend
from spend as s
full join attributed as a using (week, channel_id)
left join stg_marketing_channels as c using (channel_id)
order by metric_time__week, channel__channel_name
