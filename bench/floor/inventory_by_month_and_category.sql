-- Floor for the export inventory_by_month_and_category. The balances are read once: summed per day and
-- category first (the month-end pick and the count of days both need nothing finer), then the last day of
-- each month is picked over those few rows. Cost of goods is summed per product, then per category.
with daily as (
    select date_trunc('month', b.balance_date) as month, b.balance_date as day, p.category,
           sum(b.on_hand_units) as units, sum(b.inventory_value) as value
    from stg_inventory_balances as b
    left join stg_products as p using (product_id)
    group by all
), inventory as (
    select month, category,
           sum(units) filter (where day = last_day) as inventory_units,
           sum(value) filter (where day = last_day) as inventory_value,
           count(*) as inventory_days
    from (select *, max(day) over (partition by month) as last_day from daily)
    group by all
), cogs_by_product as (
    select date_trunc('month', ordered_at) as month, product_id, sum(quantity * unit_cost) as cost_of_goods
    from stg_order_lines
    group by all
), cogs as (
    select c.month, p.category, sum(c.cost_of_goods) as cost_of_goods
    from cogs_by_product as c
    left join stg_products as p using (product_id)
    group by all
)
select month as metric_time__month, category as product__category,
       i.inventory_units, i.inventory_value, c.cost_of_goods,
       i.inventory_value * i.inventory_days / c.cost_of_goods as inventory_turnover_days
from inventory as i
full join cogs as c using (month, category)
order by metric_time__month, product__category
