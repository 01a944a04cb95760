-- Floor for the export spend_to_date_by_month_and_region: each account's region looked up once,
-- transactions read once and summed per month and region; month to date at month grain (its last
-- day) is the month's sum, year to date a running sum of the months of the year.
with regions as (
    select a.account_id, c.region
    from stg_accounts as a
    left join stg_customers as c using (customer_id)
), monthly as (
    select date_trunc('month', t.booked_date) as month, r.region,
           sum(case when t.kind = 'card' then t.amount else 0 end) as card_spend,
           sum(case when t.kind = 'fee' then t.amount else 0 end) as fee_income
    from stg_transactions as t
    left join regions as r using (account_id)
    group by all
)
select month as metric_time__month, region as account__customer__region,
       card_spend,
       card_spend as card_spend_mtd,
       sum(card_spend) over ytd as card_spend_ytd,
       sum(fee_income) over ytd as fee_income_ytd
from monthly
window ytd as (partition by region, year(month) order by month rows between unbounded preceding and current row)
