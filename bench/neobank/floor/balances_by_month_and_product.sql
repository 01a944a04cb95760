-- Floor for the export balances_by_month_and_product: balances read once and summed per snapshot day and
-- product (accounts' products joined by key), then each month keeps its last snapshot day.
with by_day as (
    select b.snapshot_date as day, a.product,
           sum(b.balance) as closing_balance, count(*) as open_accounts
    from stg_balances as b
    left join stg_accounts as a using (account_id)
    group by all
), picked as (
    select *, date_trunc('month', day) as month, max(day) over (partition by date_trunc('month', day)) as last_day
    from by_day
)
select month as metric_time__month, product as account__product,
       closing_balance, open_accounts,
       closing_balance / nullif(open_accounts, 0) as average_balance
from picked
where day = last_day
