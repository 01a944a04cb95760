"""The demo company's raw tables at any scale, generated in DuckDB SQL straight into the warehouse's `raw` schema.

    python bench/datagen.py --order-lines 1000000 --db /tmp/bench/warehouse.duckdb

`python -m metricsctl.demo` simulates the company row by row in Python: about 26 s of CPU and 0.5 GB of
memory for 1M order lines, so roughly 4-5 minutes and 5 GB at 10M, and only orders, order lines,
customers and leads grow with its `--orders-per-day` (production, inventory, traffic, spend, visits
and staff stay at the demo's size). This generator writes the same 24 tables with the same columns
and types as the demo's seeds land in `raw`, from `range()` and `hash()` columns, with every fact
table in proportion to the order lines: the scale factor k = order lines / 13,476 (the demo's default)
multiplies facts, and an integer m = round(k) multiplies the dimensions they hang off (stores,
products, production lines, sales reps, campaigns, projects, employees), so that per-entity volumes
stay those of the demo.

Kept from the demo, so the staging models have their work to do: 2024-01-01 .. 2025-06-30; weekly,
yearly and promotion seasonality and 12 % growth; exact duplicate orders (0.2 %) and production runs
(0.5 %); late-arriving orders (2 %) and runs (3 %); NULL customer regions, a rep without a region,
NULL discounts (1 %); mistyped visit dates ('2024-13-05', '05/03/2024'); USD and GBP amounts converted
with `fx_rates`; the three planted events (Assembly's defect spike, Riverside's lost orders, paid
social's ROI slump). Not kept: the demo's day-by-day inventory simulation (balances here are
independent draws) and its sales-driven production plan (runs are drawn per line, weekday and shift).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

DEMO_ORDER_LINES = 13_476  # `python -m metricsctl.demo` at its default scale
# row counts of the demo's seeds at the default scale, for the proportions printed next to ours
DEMO_ROWS = {"attributed_orders": 4_732, "campaign_spend": 2_825, "campaigns": 37, "customers": 1_200,
             "departments": 13, "employees": 101, "fx_rates": 54, "inventory_balances": 6_564, "leads": 1_764,
             "marketing_channels": 5, "order_lines": 13_476, "orders": 8_275, "production_lines": 3,
             "production_runs": 1_718, "products": 12, "projects": 20, "promotions": 3, "purchase_orders": 54,
             "sales_reps": 8, "sales_visits": 1_419, "store_traffic": 2_735, "stores": 5, "targets": 630,
             "tasks": 921}
DAYS = 547  # 2024-01-01 .. 2025-06-30


@dataclass(frozen=True)
class Scale:
    order_lines: int
    seed: int = 7

    @property
    def k(self) -> float:
        return self.order_lines / DEMO_ORDER_LINES

    @property
    def m(self) -> int:
        return max(1, round(self.k))

    def params(self) -> dict[str, object]:
        k, m = self.k, self.m
        return {
            "seed": self.seed, "m": m, "days": DAYS,
            "customers": max(3, round(1_200 * k)),
            "unique_orders": round(8_258 * k),
            "employees": max(13 + 8 * m, round(101 * k)),
            "stores": 5 * m, "products": 12 * m, "lines": 3 * m, "reps": 8 * m, "projects": 20 * m,
        }


# Each statement is formatted with Scale.params(); only integers are substituted.
SCRIPT = """
create schema if not exists raw;
create or replace temp macro u(a, b, c) as (hash(a, b, c, {seed}) % 1000003) / 1000003.0;
create or replace temp macro pick(a, b, c, n) as (hash(a, b, c, {seed}) % n)::integer;

create or replace temp table days as
select d, day,
       case when day between date '2024-03-10' and date '2024-03-23'
                 or day between date '2025-03-10' and date '2025-03-23' then 'spring_sale'
            when day between date '2024-11-20' and date '2024-11-27' then 'black_week' end as promo,
       [0.8, 0.85, 0.9, 1.0, 1.25, 1.5, 1.1][isodow(day)]
         * (1 + 0.25 * sin(2 * pi() * (dayofyear(day) - 80) / 365.0))
         * (case when promo is not null then 1.4 else 1.0 end)
         * (1 + 0.12 * d / 365.0) as w
from (select d::integer as d, date '2024-01-01' + d::integer as day from range({days}) t(d));

-- ----------------------------------------------------------------------------------------- fixed
create or replace table raw.promotions as
select promotion_id::integer as promotion_id, promotion_code, promotion_name, start_date, end_date,
       discount_pct::double as discount_pct
from (values
    (1, 'spring_sale', 'Spring sale 2024', date '2024-03-10', date '2024-03-23', 0.2),
    (2, 'black_week', 'Black week 2024', date '2024-11-20', date '2024-11-27', 0.2),
    (3, 'spring_sale', 'Spring sale 2025', date '2025-03-10', date '2025-03-23', 0.2))
  t(promotion_id, promotion_code, promotion_name, start_date, end_date, discount_pct);

create or replace table raw.marketing_channels as
select channel_id::integer as channel_id, channel_name, channel_group, billing_currency from (values
    (1, 'paid_search', 'paid', 'USD'), (2, 'paid_social', 'paid', 'USD'), (3, 'email', 'owned', 'EUR'),
    (4, 'display', 'paid', 'EUR'), (5, 'affiliate', 'partner', 'EUR'))
  t(channel_id, channel_name, channel_group, billing_currency);

-- share of orders, ROI the spend is sized to, CPM (EUR), CTR
create or replace temp table channel_params as
select * from (values (1, 0.20, 2.6, 8.0, 0.040), (2, 0.14, 2.8, 5.0, 0.012), (3, 0.10, 9.0, 0.6, 0.030),
                      (4, 0.08, 2.4, 2.0, 0.003), (5, 0.06, 4.6, 4.0, 0.010)) t(channel_id, share, roi, cpm, ctr);

create or replace table raw.fx_rates as
select month_start, currency,
       case currency when 'USD' then round(0.91 + 0.02 * sin(i / 3.0), 4)
                     when 'GBP' then round(1.16 + 0.015 * cos(i / 4.0), 4) else 1.0 end as eur_per_unit
from (select i::integer as i, (date '2024-01-01' + to_months(i::integer))::date as month_start from range(18) t(i)),
     (values ('EUR'), ('GBP'), ('USD')) c(currency)
order by month_start, currency;

create or replace table raw.departments as
select department_id::integer as department_id, department_name, parent_department_id::integer as parent_department_id,
       cost_center from (values
    (1, 'Company', null, 'CC-000'), (2, 'Sales', 1, 'CC-100'), (3, 'Field Sales', 2, 'CC-110'),
    (4, 'Retail Stores', 2, 'CC-120'), (5, 'E-commerce', 2, 'CC-130'), (6, 'Marketing', 1, 'CC-200'),
    (7, 'Operations', 1, 'CC-300'), (8, 'Production', 7, 'CC-310'), (9, 'Supply Chain', 7, 'CC-320'),
    (10, 'Quality', 7, 'CC-330'), (11, 'Finance', 1, 'CC-400'), (12, 'People & Office', 1, 'CC-500'),
    (13, 'IT', 12, 'CC-510')) t(department_id, department_name, parent_department_id, cost_center);

-- staff besides the head (the demo's proportions) and their job title
create or replace temp table department_staff as
select department_id, staff, title,
       sum(staff) over (order by department_id) - staff as lo, sum(staff) over (order by department_id) as hi
from (values (1, 0, 'Managing director'), (2, 0, 'Sales director'), (3, 8, 'Account manager'),
             (4, 13, 'Sales assistant'), (5, 4, 'E-commerce specialist'), (6, 5, 'Marketing manager'),
             (7, 0, 'Operations director'), (8, 23, 'Production operator'), (9, 5, 'Planner'),
             (10, 3, 'Quality inspector'), (11, 4, 'Accountant'), (12, 3, 'People partner'),
             (13, 3, 'IT engineer')) t(department_id, staff, title);

-- ----------------------------------------------------------------------------------- dimensions
create or replace table raw.stores as
with classes as (
    select * from (values (0, 'Harbour Street', 'north', 'store', date '2016-04-01', 240),
                          (1, 'Mill Yard', 'south', 'store', date '2018-09-15', 180),
                          (2, 'Riverside', 'east', 'store', date '2019-05-01', 210),
                          (3, 'Old Market', 'west', 'store', date '2021-03-20', 160),
                          (4, 'Online shop', 'online', 'online', date '2020-06-01', null))
      t(class, name, region, channel, opened, area)
)
select s::integer as store_id,
       case when s <= 5 then name else name || ' ' || s end as store_name,
       region, channel, opened as opened_date, area::integer as sales_area_m2
from range(1, {stores} + 1) t(s) join classes on classes.class = (s - 1) % 5
order by s;

create or replace table raw.production_lines as
select l::integer as production_line_id,
       case when l <= 3 then name else name || ' ' || l end as line_name, site
from range(1, {lines} + 1) t(l)
join (values (0, 'Metalworks', 'Mill Lane works'), (1, 'Assembly', 'Mill Lane works'),
             (2, 'Textiles', 'Weavers Row')) c(class, name, site) on c.class = (l - 1) % 3
order by l;

-- template, sku, name, category, list price, unit cost, line class (null: bought), ideal cycle (s), supplier
create or replace temp table product_templates as
select * from (values
    (0, 'KIT-001', 'Steel kettle', 'kitchen', 39, 17.5, 1, 900, null, null),
    (1, 'KIT-002', 'Two-slice toaster', 'kitchen', 45, 21.0, 2, 1200, null, null),
    (2, 'KIT-003', 'Chef''s knife', 'kitchen', 59, 22.0, 1, 1200, null, null),
    (3, 'HOM-001', 'Linen throw', 'home', 79, 31.0, 3, 1800, null, null),
    (4, 'HOM-002', 'Table lamp', 'home', 64, 27.5, 2, 1500, null, null),
    (5, 'HOM-003', 'Wool rug', 'home', 189, 88.0, 3, 5400, null, null),
    (6, 'OFF-001', 'Desk organiser', 'office', 24, 8.5, null, null, 'Pacific Office Supply', 'USD'),
    (7, 'OFF-002', 'Notebook set', 'office', 14, 4.0, null, null, 'Paperworks Ltd', 'GBP'),
    (8, 'KIT-004', 'Cast-iron pan', 'kitchen', 69, 29.0, 1, 1500, null, null),
    (9, 'HOM-004', 'Cushion cover', 'home', 29, 11.0, 3, 900, null, null),
    (10, 'OFF-003', 'Desk lamp', 'office', 49, 21.0, 2, 1200, null, null),
    (11, 'OFF-004', 'Pen set', 'office', 19, 6.5, null, null, 'Büroform GmbH', 'EUR'))
  t(template, sku, name, category, price, cost, line_class, cycle, supplier, currency);

create or replace table raw.products as
select p::integer as product_id,
       case when p <= 12 then sku else sku || '-' || lpad(((p - 1) // 12)::varchar, 5, '0') end as sku,
       name as product_name, category, price::integer as list_price, cost::double as unit_cost,
       (line_class + 3 * ((p - 1) // 12))::integer as production_line_id
from range(1, {products} + 1) t(p) join product_templates on template = (p - 1) % 12
order by p;

-- employees: department heads first (employee i heads department i), then staff; the first 8m staff
-- are the field sales team (the sales reps)
create or replace table raw.employees as
with staff as (
    select e, case when e <= 13 + {reps} then 3 else ds.department_id end as department_id
    from range(14, {employees} + 1) t(e)
    join department_staff ds on pick(e, 0, 30, 71) >= ds.lo and pick(e, 0, 30, 71) < ds.hi
), rows as (
    select d.department_id as employee_id, d.department_id,
           d.parent_department_id as manager_id,  -- the head of the parent department
           case when ds.staff = 0 or d.parent_department_id is null then ds.title
                else 'Head of ' || d.department_name end as job_title,
           date '2012-01-01' + pick(d.department_id, 0, 31, 2500) as hire_date,
           null::date as termination_date, 1.0 as fte
    from raw.departments d join department_staff ds using (department_id)
    union all
    select s.e, s.department_id, s.department_id, ds.title,
           date '2013-01-01' + pick(s.e, 0, 32, 4500) as hire_date,
           case when s.department_id <> 3 and u(s.e, 0, 33) < 0.2
                     and date '2024-01-01' + pick(s.e, 0, 34, {days}) > date '2013-01-01' + pick(s.e, 0, 32, 4500) + 30
                then date '2024-01-01' + pick(s.e, 0, 34, {days}) end,
           [1.0, 1.0, 1.0, 1.0, 0.8, 0.5][1 + pick(s.e, 0, 35, 6)]
    from staff s join department_staff ds using (department_id)
)
select employee_id::integer as employee_id, 'Employee ' || employee_id as full_name,
       department_id::integer as department_id,
       manager_id::integer as manager_id, job_title, hire_date::date as hire_date, termination_date,
       fte::double as fte
from rows order by employee_id;

create or replace table raw.sales_reps as
select r::integer as sales_rep_id, 'Rep ' || r as rep_name,
       case when r < {reps} then ['north', 'south', 'east', 'west'][1 + (r - 1) % 4] end as region,
       (13 + r)::integer as employee_id
from range(1, {reps} + 1) t(r);

-- one in three customers is a business (customer_id divisible by 3), with an account manager of its region
create or replace table raw.customers as
select c::integer as customer_id,
       case when u(c, 0, 40) < 0.02 then null else ['north', 'south', 'east', 'west'][1 + g] end as region,
       case when c % 3 = 0 then 'business' else 'consumer' end as segment,
       case when u(c, 0, 41) < 0.3 then date '2021-01-01' + pick(c, 0, 42, 1095)
            else date '2024-01-01' + floor(
                (case when u(c, 0, 43) < 0.6 then u(c, 0, 44) else sqrt(u(c, 0, 44)) end) * {days})::integer
       end as signup_date,
       case when c % 3 = 0 then (1 + g + 4 * pick(c, 0, 45, greatest(1, ({reps} - 1) // 4)))::integer
       end as sales_rep_id
from (select c, pick(c, 0, 46, 4) as g from range(1, {customers} + 1) t(c))
order by c;

-- ------------------------------------------------------------------------------------ CRM facts
create or replace temp table visits as
select row_number() over (order by d, r)::integer as visit_id, d, day, r::integer as sales_rep_id,
       (3 * (1 + pick(d, r, 50, greatest(1, {customers} // 3))))::integer as customer_id,
       u(d, r, 51) as x
from days, range(1, {reps} + 1) t(r)
where isodow(day) <= 5 and u(d, r, 52) < 0.45;

create or replace table raw.sales_visits as
select visit_id, sales_rep_id, customer_id,
       case when x < 0.0014 and day(day) > 12 then strftime(day, '%Y-%d-%m')
            when x >= 0.0014 and x < 0.0035 then strftime(day, '%d/%m/%Y')
            else strftime(day, '%Y-%m-%d') end as visit_date,
       case when u(visit_id, 0, 53) < 0.7 then 'on_site' else 'video' end as visit_type,
       [30, 45, 60, 90][1 + pick(visit_id, 0, 54, 4)]::integer as duration_minutes
from visits order by visit_id;

create or replace table raw.leads as
with converted as (
    select greatest(date '2024-01-01', signup_date - (3 + pick(customer_id, 0, 60, 42))) as created_date,
           customer_id, region, signup_date
    from raw.customers where segment = 'business' and signup_date >= date '2024-01-01'
), lost as (  -- five leads that never convert for every one that does
    select date '2024-01-01' + pick(customer_id, i, 61, {days}) as created_date,
           ['north', 'south', 'east', 'west'][1 + pick(customer_id, i, 62, 4)] as region, 5 * customer_id + i as i
    from converted, range(5) t(i)
), rows as (
    select created_date, region, true as is_converted, signup_date as converted_date, customer_id, customer_id as k
    from converted
    union all
    select created_date, region, false, null, null, -i from lost
)
select row_number() over (order by created_date, k)::integer as lead_id, created_date,
       ['trade_fair', 'website', 'referral', 'paid_search', 'cold_call'][1 + pick(k, 0, 63, 5)] as source_channel,
       region, is_converted, converted_date, customer_id::integer as customer_id
from rows order by lead_id;

-- --------------------------------------------------------------------------- point of sale, web shop
-- order day, customer and store; three in ten sales visits bring an order of that customer within 14 days
create or replace temp table orders_u as
with visit_orders as (
    select day + 1 + pick(visit_id, 0, 70, 14) as day, customer_id, 1 as src, visit_id as k1, 0 as k2
    from visits where u(visit_id, 0, 71) < 0.3 and day + 1 + pick(visit_id, 0, 70, 14) < date '2024-01-01' + {days}
), per_day as (
    select d, day, round(({unique_orders} - (select count(*) from visit_orders)) * w / sum(w) over ())::integer as n
    from days
), base as (
    select day, (1 + pick(d, j, 72, {customers}))::integer as customer_id, 0 as src, d as k1, j as k2
    from per_day, range(per_day.n) t(j)
), placed as (
    select *, u(src * 1000003 + k1, k2, 73) as x from (select * from base union all select * from visit_orders)
), stored as (
    select *, (case when x < 0.20 then 0 when x < 0.36 then 1 when x < 0.54 then 2 when x < 0.68 then 3 else 4 end
               + 1 + 5 * pick(src * 1000003 + k1, k2, 74, {m}))::integer as store_id
    from placed
)
select row_number() over (order by stored.day, src, k1, k2)::integer as order_id, customer_id, store_id,
       stored.day as ordered_at, days.promo as promotion
from stored join days on days.day = stored.day
-- planted: Riverside's card terminals are down for a week, 85 % of its customers walk out
where not (store_id = 3 and stored.day between date '2024-10-14' and date '2024-10-20'
           and u(src * 1000003 + k1, k2, 75) < 0.85);

create or replace table raw.orders as
with o as (
    select order_id, customer_id, store_id, ordered_at, promotion,
           ordered_at + interval 20 hour + to_minutes(pick(order_id, 0, 80, 240))
             + case when u(order_id, 0, 81) < 0.02 then to_days(2 + pick(order_id, 0, 82, 8)) else interval 0 day end
             as loaded_at
    from orders_u
)
select * from o
union all
select * from o where u(order_id, 0, 83) < 0.002  -- planted: the same order landed twice
order by order_id;

-- 1, 2 or 3 lines (0.45 / 0.45 / 0.09); promotion days take 20 % off; 1 % of discounts went unrecorded
create or replace table raw.order_lines as
select (3 * o.order_id + j - 2)::integer as order_line_id, o.order_id, p.product_id,
       (1 + floor(u(o.order_id, j, 90) * 2.5))::integer as quantity, p.list_price as unit_price,
       case when u(o.order_id, j, 91) < 0.01 then null
            when o.promotion is not null then round(p.list_price * 0.2, 2)
            when u(o.order_id, j, 92) < 0.05 then round(p.list_price * 0.1, 2)
            else 0.0 end::double as discount_per_unit
from (select order_id, promotion,
             1 + (u(order_id, 0, 93) >= 0.4545)::integer + (u(order_id, 0, 93) >= 0.909)::integer as n
      from orders_u) o,
     range(3) t(j), raw.products p
where j < o.n and p.product_id = 1 + pick(o.order_id, j, 94, {products})
order by order_line_id;

create or replace table raw.store_traffic as
with per_day as (select d, day, promo, {unique_orders} * w / sum(w) over () as orders from days)
select day as traffic_date, s.store_id,
       greatest(1, round(orders * share / {m} / conversion
                          * (case when promo is not null then 1.2 / 1.4 else 1 end)  -- promotions convert better
                          * (0.9 + 0.2 * u(s.store_id, d, 100))))::integer as footfall
from per_day, raw.stores s
join (values (0, 0.20, 0.16), (1, 0.16, 0.14), (2, 0.18, 0.18), (3, 0.14, 0.15), (4, 0.32, 0.028))
  c(class, share, conversion) on c.class = (s.store_id - 1) % 5
order by traffic_date, s.store_id;

-- ------------------------------------------------------------------------------------ marketing
-- per channel, m always-on streams of back-to-back campaigns (60-120 days), plus promotion campaigns
create or replace temp table streams as
select channel_id, s, 60 + pick(channel_id, s, 110, 61) as len, pick(channel_id, s, 111, 60) as phase
from range(1, 6) c(channel_id), range({m}) t(s);

create or replace temp table campaigns_t as
with always_on as (
    select channel_id, s, n, len, phase,
           greatest(0, n * len - phase) as first_d, least({days} - 1, n * len - phase + len - 1) as last_d,
           'always_on' as kind
    from streams, range(0, ({days} + phase) // len + 1) t(n)
    where n * len - phase <= {days} - 1
), promo as (
    select channel_id, s, p.promotion_id as n, 0 as len, 0 as phase,
           (p.start_date - 3 - date '2024-01-01') as first_d, (p.end_date - date '2024-01-01') as last_d,
           'promotion' as kind
    from raw.promotions p, (values (2), (3)) c(channel_id), range({m}) t(s)
)
select row_number() over (order by kind, channel_id, s, n)::integer as campaign_id, *
from (select * from always_on union all select * from promo);

create or replace table raw.campaigns as
select c.campaign_id,
       case when kind = 'promotion'
            then p.promotion_name || ' (' || ch.channel_name || ') #' || (c.s + 1)
            else ch.channel_name || ' always-on '
                 || strftime(date '2024-01-01' + c.first_d::integer, '%Y-%m') || ' #' || (c.s + 1) || '.' || (c.n + 1)
       end as campaign_name,
       c.channel_id::integer as channel_id,
       date '2024-01-01' + c.first_d::integer as start_date, date '2024-01-01' + c.last_d::integer as end_date,
       case when kind = 'promotion' then 'promotion'
            else ['conversion', 'awareness', 'retention', 'awareness', 'conversion'][c.channel_id] end as objective
from campaigns_t c join raw.marketing_channels ch using (channel_id)
left join raw.promotions p on kind = 'promotion' and p.promotion_id = c.n
order by c.campaign_id;

-- last click: 58 % of orders, by channel share (paid social x 0.6 in February 2025, planted)
create or replace table raw.attributed_orders as
with drawn as (
    select order_id, (ordered_at - date '2024-01-01') as d, u(order_id, 0, 120) as x,
           case when ordered_at >= date '2025-02-01' and ordered_at < date '2025-03-01' then 0.6 else 1.0 end as slump
    from orders_u
), channel as (
    select order_id, d,
           case when x < 0.20 then 1 when x < 0.20 + 0.14 * slump then 2 when x < 0.30 + 0.14 * slump then 3
                when x < 0.38 + 0.14 * slump then 4 when x < 0.44 + 0.14 * slump then 5 end as channel_id
    from drawn
), streamed as (
    select order_id, d, ch.channel_id, st.s, (d + st.phase) // st.len as n
    from channel ch join streams st
      on st.channel_id = ch.channel_id and st.s = pick(ch.order_id, 0, 121, {m})
)
select st.order_id, c.campaign_id, st.channel_id::integer as channel_id, 'last_click' as attribution_model
from streamed st join campaigns_t c
  on c.kind = 'always_on' and c.channel_id = st.channel_id and c.s = st.s and c.n = st.n
order by st.order_id;

-- daily spend per campaign, sized to the gross profit its channel should bring at its usual ROI,
-- billed in the channel's currency (paid social overspends x 2.2 in February 2025, planted)
create or replace table raw.campaign_spend as
with per_day as (select d, day, {unique_orders} * w / sum(w) over () as orders from days), spend as (
    select pd.day, c.campaign_id, ch.billing_currency as currency,
           pd.orders * cp.share * 30.0 / cp.roi / {m} * (0.85 + 0.3 * u(c.campaign_id, pd.d, 130))
             * (case when c.kind = 'promotion' then 0.5 else 1 end)
             * (case when c.channel_id = 2 and pd.day >= date '2025-02-01' and pd.day < date '2025-03-01'
                     then 2.2 else 1 end) as eur,
           cp.cpm, cp.ctr, pd.d
    from campaigns_t c
    join per_day pd on pd.d between c.first_d and c.last_d
    join channel_params cp using (channel_id)
    join raw.marketing_channels ch using (channel_id)
)
select s.day as spend_date, s.campaign_id, round(s.eur / fx.eur_per_unit, 2) as spend, s.currency,
       round(s.eur / s.cpm * 1000 * (0.9 + 0.2 * u(s.campaign_id, s.d, 131)))::integer as impressions,
       round(s.eur / s.cpm * 1000 * s.ctr * (0.85 + 0.3 * u(s.campaign_id, s.d, 132)))::integer as clicks
from spend s
join raw.fx_rates fx on fx.currency = s.currency and fx.month_start = date_trunc('month', s.day)::date
order by spend_date, campaign_id;

-- ------------------------------------------------------------------------------------------- ERP
-- per line, weekday and shift, a run with probability 0.49 (the demo's 1.5 runs per line and day),
-- of a product made on that line; Assembly (line 2) has a bad solder batch 2025-03-10 .. 16 (planted)
create or replace table raw.production_runs as
with slots as (
    select l as production_line_id, d, day, shift
    from range(1, {lines} + 1) t(l), days, range(1, 4) s(shift)
    where isodow(day) <= 5 and u(l * 1000 + shift, d, 140) < 0.488
), runs as (
    select row_number() over (order by d, production_line_id, shift)::integer as run_id, s.*,
           tp.template, tp.cycle
    from slots s
    join product_templates tp
      on tp.line_class = 1 + (s.production_line_id - 1) % 3
     and tp.template = [[0, 2, 8], [1, 4, 10], [3, 5, 9]][1 + (s.production_line_id - 1) % 3]
                       [1 + pick(s.production_line_id, s.d * 10 + s.shift, 141, 3)]
), timed as (
    select *, 240 + 5 * pick(run_id, 0, 142, 43) as planned,
           0.03 + 0.09 * u(run_id, 0, 143) + case when u(run_id, 0, 144) < 0.04 then 0.15 + 0.25 * u(run_id, 0, 145)
                                                  else 0 end as downtime
    from runs
), produced as (
    select *, round(planned * (1 - downtime))::integer as run_minutes
    from timed
), made as (
    select *, greatest(1, floor(run_minutes * 60 * (0.86 + 0.11 * u(run_id, 0, 146)) / cycle))::integer as units,
           case when production_line_id = 2 and day between date '2025-03-10' and date '2025-03-16' then 0.15
                else [0.012, 0.018, 0.010][1 + (production_line_id - 1) % 3] end as defect_rate
    from produced
), r as (
    select run_id, production_line_id::integer as production_line_id,
           (template + 1 + 12 * ((production_line_id - 1) // 3))::integer as product_id,
           day as run_date, shift::integer as shift, planned::integer as planned_minutes, run_minutes,
           cycle::integer as ideal_cycle_time_s, units as units_produced,
           least(units, floor(units * defect_rate + u(run_id, 0, 147)))::integer as units_defective,
           day + interval 1 day + interval 6 hour + interval 15 minute
             + case when u(run_id, 0, 148) < 0.03 then to_days(2 + pick(run_id, 0, 149, 10)) else interval 0 day end
             as loaded_at
    from made
)
select * from r
union all
select * from r where u(run_id, 0, 150) < 0.005  -- planted: a run exported twice
order by run_id;

create or replace table raw.purchase_orders as
with bought as (
    select p.product_id, tp.supplier, tp.currency, tp.cost,
           case tp.currency when 'USD' then 18 when 'GBP' then 12 else 7 end as lead
    from raw.products p join product_templates tp on tp.template = (p.product_id - 1) % 12
    where tp.supplier is not null
), placed as (
    select b.*, date '2024-01-01' + (30 * n + pick(b.product_id, n, 160, 10))::integer as ordered_date, n
    from bought b, range(19) t(n)
)
select row_number() over (order by ordered_date, product_id)::integer as purchase_order_id, supplier,
       product_id::integer as product_id, ordered_date, ordered_date + lead as expected_date,
       case when ordered_date + lead + [-2, -1, 0, 0, 0, 0, 0, 1, 3, 6][1 + pick(product_id, n, 161, 10)]
                 < date '2024-01-01' + {days}
            then ordered_date + lead + [-2, -1, 0, 0, 0, 0, 0, 1, 3, 6][1 + pick(product_id, n, 161, 10)] end
         as received_date,
       (10 * (5 + pick(product_id, n, 162, 26)))::integer as quantity,
       round(cost / fx.eur_per_unit * (0.97 + 0.06 * u(product_id, n, 163)), 2) as unit_cost, p.currency
from placed p
join raw.fx_rates fx on fx.currency = p.currency and fx.month_start = date_trunc('month', p.ordered_date)::date
where ordered_date < date '2024-01-01' + {days}
order by purchase_order_id;

create or replace table raw.inventory_balances as
select day as balance_date, p.product_id, 'main' as warehouse,
       (20 + pick(p.product_id, d, 170, 180))::integer as on_hand_units
from days, raw.products p
order by balance_date, p.product_id;

-- ------------------------------------------------------------------------------------ HR / office
create or replace table raw.projects as
with t as (
    select * from (values
        (0, 'Spring catalogue 2024', 6), (1, 'Kettle range refresh', 8), (2, 'ERP upgrade', 13),
        (3, 'Riverside store refit', 4), (4, 'Supplier audit 2024', 10), (5, 'Black week 2024', 6),
        (6, 'Web shop checkout', 5), (7, 'Line 2 retooling', 8), (8, 'Annual accounts 2024', 11),
        (9, 'Onboarding handbook', 12), (10, 'Textile dye trial', 10), (11, 'Key account plan 2025', 3),
        (12, 'Spring catalogue 2025', 6), (13, 'Warehouse racking', 9), (14, 'Payroll migration', 11),
        (15, 'Laptop refresh', 13), (16, 'Energy savings', 7), (17, 'Loyalty programme', 5),
        (18, 'Pan coating trial', 8), (19, 'Budget 2025', 11)) t(template, name, department_id)
), p as (
    select i as project_id, case when i <= 20 then name else name || ' #' || ((i - 1) // 20 + 1) end as project_name,
           department_id,
           date '2024-01-01' + (((i - 1) % 20) * {days} // 20 + pick(i, 0, 180, 20))::integer as start_date
    from range(1, {projects} + 1) r(i) join t on t.template = (i - 1) % 20
)
select project_id::integer as project_id, project_name, department_id::integer as department_id,
       department_id::integer as owner_employee_id, start_date,
       start_date + (60 + pick(project_id, 0, 181, 120))::integer as due_date,
       case when start_date + (60 + pick(project_id, 0, 181, 120))::integer < date '2024-01-01' + {days} - 30
            then 'completed' else 'active' end as status
from p order by project_id;

create or replace table raw.tasks as
with drawn as (
    select p.project_id, j,
           p.start_date + floor(u(p.project_id, j, 190) * 0.8 * (p.due_date - p.start_date))::integer as created_date,
           p.due_date
    from raw.projects p, range(70) t(j)
    where j < 30 + pick(p.project_id, 0, 191, 40)
), dated as (
    select *, least(due_date, created_date + 5 + pick(project_id, j, 192, 30)) as task_due
    from drawn
), done as (
    select *, case when u(project_id, j, 193) < 0.94
                   then greatest(created_date, task_due + pick(project_id, j, 194, 13) - 9) end as completed
    from dated where task_due < date '2024-01-01' + {days}
)
select row_number() over (order by created_date, task_due, project_id, j)::integer as task_id,
       project_id, (14 + pick(project_id, j, 195, {employees} - 13))::integer as assignee_employee_id,
       created_date, task_due as due_date,
       case when completed < date '2024-01-01' + {days} then completed end as completed_date,
       [2, 4, 4, 8, 8, 16, 24][1 + pick(project_id, j, 196, 7)]::integer as estimate_hours
from done order by task_id;

-- ------------------------------------------------------------------------------------- finance
create or replace table raw.targets as
with months as (select distinct month_start from raw.fx_rates), company as (
    select * from (values ('revenue', 1.0e6, 0.25), ('gross_margin_pct', 55.0, 0.15),
                          ('average_order_value', 80.0, 0.05), ('new_customers', 60.0, 0.10),
                          ('customer_acquisition_cost', 40.0, 0.10), ('oee', 0.78, 0.10),
                          ('inventory_turnover_days', 25.0, 0.05), ('project_completion_rate', 0.85, 0.10),
                          ('sales_visit_conversion_rate', 0.35, 0.10)) t(metric_name, target_value, weight)
)
select metric_name, 'month' as period_grain, month_start as period_start, org_unit,
       target_value::double as target_value, weight::double as weight
from (
    select metric_name, month_start, 'company' as org_unit, target_value, weight from company, months
    union all
    select 'revenue', month_start, store_name, 1.0e5, 0.6 from raw.stores, months
    union all
    select 'store_conversion_rate', month_start, store_name, 0.14, 0.4 from raw.stores, months
    union all
    select 'channel_roi', month_start, channel_name, 1.8, 0.7 from raw.marketing_channels, months
    union all
    select 'marketing_spend', month_start, channel_name, 1.0e4, 0.3 from raw.marketing_channels, months
    union all
    select 'oee', month_start, line_name, 0.78, 0.6 from raw.production_lines, months
    union all
    select 'defect_rate', month_start, line_name, 0.025, 0.4 from raw.production_lines, months
)
order by period_start, org_unit, metric_name;

drop table days;
drop table department_staff;
drop table product_templates;
drop table channel_params;
drop table visits;
drop table orders_u;
drop table streams;
drop table campaigns_t;
"""


def generate(con: duckdb.DuckDBPyConnection, scale: Scale) -> dict[str, int]:
    """Write every raw table of the demo into `con` (schema `raw`); returns the row count per table."""
    return run_script(con, SCRIPT.format(**scale.params()))


def generate_file(path: Path, order_lines: int, seed: int = 7) -> dict[str, int]:
    return script_into_file(path, SCRIPT.format(**Scale(order_lines, seed).params()))


def run_script(con: duckdb.DuckDBPyConnection, script: str) -> dict[str, int]:
    """Run statements separated by `;` at a line's end (comment-only ones skipped); the rows of each raw table."""
    for statement in script.split(";\n"):
        if statement.strip() and not all(line.strip().startswith("--") or not line.strip()
                                         for line in statement.splitlines()):
            con.execute(statement)
    counts: dict[str, int] = {}
    for (name,) in con.execute("select table_name from duckdb_tables() where schema_name = 'raw' "
                               "order by table_name").fetchall():
        row = con.execute(f'select count(*) from raw."{name}"').fetchone()
        counts[str(name)] = int(row[0]) if row else 0
    return counts


def script_into_file(path: Path, script: str) -> dict[str, int]:
    """run_script on a DuckDB file, created with its folder if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        return run_script(con, script)
    finally:
        con.close()


def parse_count(text: str) -> int:
    """'1m' -> 1,000,000; '250k' -> 250,000; '13476' -> 13,476."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-lines", default="1m", help="order lines to generate (e.g. 1m, 10m, 13476)")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB file to write the raw schema into")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the row counts here")
    args = parser.parse_args()
    scale = Scale(parse_count(args.order_lines), args.seed)
    started = time.perf_counter()
    counts = generate_file(args.db, scale.order_lines, args.seed)
    seconds = time.perf_counter() - started
    if args.json:
        args.json.write_text(json.dumps(counts, indent=2))
    width = max(len(n) for n in counts)
    print(f"{'table':<{width}}  {'rows':>12}  {'x demo':>8}")
    for name, count in counts.items():
        print(f"{name:<{width}}  {count:>12,}  {count / DEMO_ROWS.get(name, 1):>8.1f}")
    print(f"{'total':<{width}}  {sum(counts.values()):>12,}   (k = {scale.k:.1f}, m = {scale.m}) in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
