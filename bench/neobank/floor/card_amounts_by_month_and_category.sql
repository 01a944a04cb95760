-- Floor for the export card_amounts_by_month_and_category: one scan, one aggregate (the exact percentiles
-- need every card payment of a group: nothing to pre-aggregate).
select date_trunc('month', booked_date) as metric_time__month,
       merchant_category as transaction__merchant_category,
       count(transaction_id) as transactions,
       sum(case when kind = 'card' then amount else 0 end) as card_spend,
       quantile_cont(case when kind = 'card' then amount end, 0.5) as median_card_amount,
       quantile_cont(case when kind = 'card' then amount end, 0.9) as p90_card_amount
from stg_transactions
group by all
