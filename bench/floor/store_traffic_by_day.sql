-- Floor for the export store_traffic_by_day: one aggregate per source on (day, store_id), joined on those
-- keys, store names joined last. Days are dates already: no truncation to group on.
with traffic as (
    select traffic_date as day, store_id, sum(footfall) as footfall
    from stg_store_traffic
    group by all
), orders as (
    select ordered_at as day, store_id, count(order_id) as orders
    from stg_orders
    group by all
), lines as (
    select ordered_at as day, store_id, sum(quantity * net_unit_price) as revenue
    from stg_order_lines
    group by all
)
select day::timestamp as metric_time__day, s.store_name as store__store_name,
       t.footfall as store_footfall, o.orders,
       o.orders / nullif(t.footfall, 0) as store_conversion_rate,
       l.revenue,
       l.revenue / nullif(t.footfall, 0) as revenue_per_visitor
from traffic as t
full join orders as o using (day, store_id)
full join lines as l using (day, store_id)
left join stg_stores as s using (store_id)
order by metric_time__day, store__store_name
