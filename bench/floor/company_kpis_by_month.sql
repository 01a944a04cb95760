-- Floor for the export company_kpis_by_month: one aggregate per source relation, month filters written as
-- date ranges, orders and visits read once each (materialized) for both their counts and the conversions,
-- which are found with an ASOF join (each order -> the customer's latest visit on or before its day).
with months as (
    select distinct date_trunc('month', date_day) as month
    from metricflow_time_spine
    where date_day >= date '2024-01-01' and date_day < date '2025-07-01'
), lines as (
    select date_trunc('month', ordered_at) as month,
           sum(quantity * net_unit_price) as revenue, sum(quantity * unit_cost) as cost_of_goods
    from stg_order_lines
    where ordered_at >= date '2024-01-01' and ordered_at < date '2025-07-01'
    group by all
), orders_rows as materialized (
    select order_id, customer_id, ordered_at from stg_orders
), orders as (
    select date_trunc('month', ordered_at) as month, count(order_id) as orders
    from orders_rows
    where ordered_at >= date '2024-01-01' and ordered_at < date '2025-07-01'
    group by all
), customers as (
    select date_trunc('month', signup_date) as month, count(customer_id) as new_customers
    from stg_customers
    where signup_date >= date '2024-01-01' and signup_date < date '2025-07-01'
    group by all
), spend as (
    select date_trunc('month', spend_date) as month, sum(spend_eur) as marketing_spend
    from stg_campaign_spend
    where spend_date >= date '2024-01-01' and spend_date < date '2025-07-01'
    group by all
), runs as (
    select date_trunc('month', run_date) as month,
           sum(run_minutes) as run_minutes, sum(planned_minutes) as planned_minutes,
           sum(ideal_run_minutes) as ideal_run_minutes, sum(good_units) as good_units,
           sum(units_produced) as units_produced
    from stg_production_runs
    where run_date >= date '2024-01-01' and run_date < date '2025-07-01'
    group by all
), inventory as (
    select month, arg_max(value, day) as inventory_value, count(*) as inventory_days
    from (select date_trunc('month', balance_date) as month, balance_date as day, sum(inventory_value) as value
          from stg_inventory_balances
          where balance_date >= date '2024-01-01' and balance_date < date '2025-07-01'
          group by all)
    group by all
), tasks as (
    select date_trunc('month', due_date) as month,
           count(*) filter (where is_completed) as tasks_completed, count(task_id) as tasks_due
    from stg_tasks
    where due_date >= date '2024-01-01' and due_date < date '2025-07-01'
    group by all
), visits_rows as materialized (
    select visit_id, customer_id, visit_date
    from stg_sales_visits
    where visit_date >= date '2024-01-01' and visit_date < date '2025-07-01'
), visits as (
    select date_trunc('month', visit_date) as month, count(visit_id) as sales_visits
    from visits_rows
    group by all
), conversions as (
    select date_trunc('month', v.visit_date) as month, count(o.order_id) as conversions
    from orders_rows as o
    asof join visits_rows as v on v.customer_id = o.customer_id and o.ordered_at >= v.visit_date
    where v.visit_date > o.ordered_at - interval 14 day
    group by all
)
select month as metric_time__month,
       l.revenue,
       100 * (l.revenue - l.cost_of_goods) / l.revenue as gross_margin_pct,
       l.revenue / nullif(o.orders, 0) as average_order_value,
       coalesce(c.new_customers, 0) as new_customers,
       s.marketing_spend / nullif(coalesce(c.new_customers, 0), 0) as customer_acquisition_cost,
       (r.run_minutes / nullif(r.planned_minutes, 0)) * (r.ideal_run_minutes / nullif(r.run_minutes, 0))
         * (r.good_units / nullif(r.units_produced, 0)) as oee,
       i.inventory_value * i.inventory_days / l.cost_of_goods as inventory_turnover_days,
       t.tasks_completed / nullif(t.tasks_due, 0) as project_completion_rate,
       v2.conversions / nullif(v.sales_visits, 0) as sales_visit_conversion_rate
from months
left join lines as l using (month)
left join orders as o using (month)
left join customers as c using (month)
left join spend as s using (month)
left join runs as r using (month)
left join inventory as i using (month)
left join tasks as t using (month)
left join visits as v using (month)
left join conversions as v2 using (month)
order by metric_time__month
