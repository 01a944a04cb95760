-- Floor for the export daily_spend_by_segment: each account's segment looked up once (31k accounts, not
-- 5M transactions, walk the two hops), transactions read once and summed per day and segment, then the
-- 7- and 28-day windows run over those daily sums laid on every (day, segment) of the spine.
with segments as (
    select a.account_id, c.segment
    from stg_accounts as a
    left join stg_customers as c using (customer_id)
), daily as (
    select t.booked_date as day, s.segment,
           sum(case when t.kind = 'card' then t.amount else 0 end) as card_spend,
           count(t.transaction_id) as transactions
    from stg_transactions as t
    left join segments as s using (account_id)
    group by all
), grid as (
    select d.date_day as day, g.segment, x.card_spend, x.transactions
    from metricflow_time_spine as d
    cross join (select distinct segment from daily) as g
    left join daily as x on x.day = d.date_day and x.segment is not distinct from g.segment
), windows as (
    select day, segment, card_spend,
           sum(card_spend) over w7 as card_spend_7d,
           sum(card_spend) over w28 as card_spend_28d,
           sum(transactions) over w7 as transactions_7d,
           count(transactions) over w28 as days_with_rows
    from grid
    window w7 as (partition by segment order by day range between interval 6 day preceding and current row),
           w28 as (partition by segment order by day range between interval 27 day preceding and current row)
)
select day as metric_time__day, segment as account__customer__segment,
       card_spend, card_spend_7d, card_spend_28d, transactions_7d
from windows
where days_with_rows > 0
