{#- stg_sales_visits' rows: a rep's visits to business customers. visit_date is typed by hand in the CRM: besides
    ISO dates it holds day/month/year ('05/03/2024') and day-month swaps ('2024-13-05' for 13 May 2024); both are
    repaired, anything else would become NULL (and fail the not_null test). Its pre-hook compares them with the
    table as it stands (record_changed_rows, macros/rewrites.sql). -#}
{% macro sales_visits() -%}
with source as (
    select *, trim(cast(visit_date as {{ dbt.type_string() }})) as visit_date_text
    from {{ ref('sales_visits') }}
),

parsed as (
    select
        *,
        case
            when visit_date_text like '____-__-__' and substr(visit_date_text, 6, 2) between '01' and '12'
                then visit_date_text
            when visit_date_text like '__/__/____'
                then substr(visit_date_text, 7, 4) || '-' || substr(visit_date_text, 4, 2) || '-'
                    || substr(visit_date_text, 1, 2)
            when visit_date_text like '____-__-__' and substr(visit_date_text, 9, 2) between '01' and '12'
                then substr(visit_date_text, 1, 4) || '-' || substr(visit_date_text, 9, 2) || '-'
                    || substr(visit_date_text, 6, 2)
        end as visit_date_iso
    from source
)

select
    cast(visit_id as integer) as visit_id,
    cast(sales_rep_id as integer) as sales_rep_id,
    cast(customer_id as integer) as customer_id,
    cast(visit_date_iso as date) as visit_date,
    visit_type,
    cast(duration_minutes as integer) as duration_minutes,
    visit_date_iso is null or visit_date_iso <> visit_date_text as visit_date_repaired
from parsed
{%- endmacro %}
