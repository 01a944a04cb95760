-- Production runs from the line terminals. Some runs are exported twice (kept once: the latest load) and
-- some arrive days late (is_late_arriving). OEE inputs are computed here, per run.
-- Incremental: a run reads the runs of the loads since the last one and replaces those runs by run_id, so a
-- reload that moves a run to another date moves it here too.
{{ config(materialized=keyed_incremental(), unique_key='run_id', incremental_strategy='delete+insert') }}
with deduplicated as (
    select *
    from (
        select *, row_number() over (partition by run_id order by loaded_at desc) as load_rank
        from {{ ref('production_runs') }}
        {% if is_incremental() %}
        where run_id in (select run_id from {{ ref('production_runs') }} where {{ loaded_since_last_run() }})
        {% endif %}
    ) as loads
    where load_rank = 1
)

select
    cast(run_id as integer) as run_id,
    cast(production_line_id as integer) as production_line_id,
    cast(product_id as integer) as product_id,
    cast(run_date as date) as run_date,
    cast(shift as integer) as shift,
    cast(planned_minutes as {{ type_double() }}) as planned_minutes,
    cast(run_minutes as {{ type_double() }}) as run_minutes,
    cast(ideal_cycle_time_s as {{ type_double() }}) as ideal_cycle_time_s,
    cast(units_produced as integer) as units_produced,
    cast(units_defective as integer) as units_defective,
    cast(units_produced - units_defective as integer) as good_units,
    units_produced * ideal_cycle_time_s / 60.0 as ideal_run_minutes,
    run_minutes * 60.0 as run_seconds,
    cast(loaded_at as timestamp) as loaded_at,
    {{ days_between('run_date', 'loaded_at') }} > 1 as is_late_arriving
from deduplicated
