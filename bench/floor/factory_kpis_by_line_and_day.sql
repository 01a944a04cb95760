-- Floor for the export factory_kpis_by_line_and_day: one aggregate on (day, line id), line names joined last.
with runs as (
    select run_date as day, production_line_id,
           sum(units_produced) as units_produced, sum(units_defective) as units_defective,
           sum(run_minutes) as run_minutes, sum(planned_minutes) as planned_minutes,
           sum(ideal_run_minutes) as ideal_run_minutes, sum(good_units) as good_units
    from stg_production_runs
    group by all
)
select r.day::timestamp as metric_time__day, l.line_name as production_line__line_name,
       r.units_produced, r.units_defective,
       r.units_defective / nullif(r.units_produced, 0) as defect_rate,
       r.run_minutes / nullif(r.planned_minutes, 0) as availability,
       r.ideal_run_minutes / nullif(r.run_minutes, 0) as performance,
       r.good_units / nullif(r.units_produced, 0) as quality,
       (r.run_minutes / nullif(r.planned_minutes, 0)) * (r.ideal_run_minutes / nullif(r.run_minutes, 0))
         * (r.good_units / nullif(r.units_produced, 0)) as oee,
       60 * r.run_minutes / r.units_produced as production_cycle_time
from runs as r
left join stg_production_lines as l using (production_line_id)
order by metric_time__day, production_line__line_name
