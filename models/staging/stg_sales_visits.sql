-- Sales visits: a rep visits a business customer, with the CRM's hand-typed dates repaired (macros/crm.sql).
-- A table rebuilt whole by each run; the run first adds the earliest day of the visits it adds, removes or
-- changes to stg_sales_visits_rewrites, from which metric_values recomputes the visit metrics. Compared are the
-- columns the metrics read (metrics/crm.yml: the day, the customer, the rep, the visit type): a column a metric
-- comes to read joins the list.
-- depends_on: {{ ref('stg_sales_visits_rewrites') }}
{{ config(materialized='table',
          pre_hook="{{ record_changed_rows('stg_sales_visits_rewrites', sales_visits(), 'visit_id', 'visit_date',
                                            ['customer_id', 'sales_rep_id', 'visit_type']) }}") }}
{{ sales_visits() }}
