-- Floor for the export upgrade_funnel_by_month: sessions read once (materialized) for their count and as
-- the base events; each upgrade finds the customer's latest session on or before its day with an ASOF
-- join and counts as a conversion when that session is less than 7 days earlier.
with segments as (
    select customer_id, segment from stg_customers
), session_rows as materialized (
    select s.customer_id, s.session_date, c.segment
    from stg_sessions as s
    left join segments as c using (customer_id)
), sessions as (
    select date_trunc('month', session_date) as month, segment, count(*) as sessions
    from session_rows
    group by all
), upgrades as (
    select date_trunc('month', u.upgraded_date) as month, c.segment, count(u.upgrade_id) as upgrades
    from stg_upgrades as u
    left join segments as c using (customer_id)
    group by all
), conversions as (
    select date_trunc('month', s.session_date) as month, s.segment, count(*) as upgrade_conversions
    from stg_upgrades as u
    asof join session_rows as s on s.customer_id = u.customer_id and u.upgraded_date >= s.session_date
    where s.session_date > u.upgraded_date - interval 7 day
    group by all
)
select month as metric_time__month, segment as customer__segment,
       s.sessions, u.upgrades, c.upgrade_conversions,
       c.upgrade_conversions / nullif(s.sessions, 0) as upgrade_conversion_rate
from sessions as s
full join upgrades as u using (month, segment)
full join conversions as c using (month, segment)
