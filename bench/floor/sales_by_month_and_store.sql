-- Floor for the export sales_by_month_and_store: each source relation read once, aggregated on the store
-- key, and the store names joined to the aggregate (370 rows per month), not to every order line.
with lines as (
    select date_trunc('month', ordered_at) as month, store_id,
           sum(quantity * net_unit_price) as revenue, sum(quantity * unit_cost) as cost_of_goods
    from stg_order_lines
    group by all
), orders as (
    select date_trunc('month', ordered_at) as month, store_id, count(order_id) as orders
    from stg_orders
    group by all
)
select month as metric_time__month, s.store_name as store__store_name,
       l.revenue, o.orders,
       l.revenue / nullif(o.orders, 0) as average_order_value,
       100 * (l.revenue - l.cost_of_goods) / l.revenue as gross_margin_pct
from lines as l
full join orders as o using (month, store_id)
left join stg_stores as s using (store_id)
order by metric_time__month, store__store_name
