-- Floor for the export people_kpis_by_month. Headcount rows (one per employee and day) are counted per day
-- and department first; the month-end pick runs over those, divisions are joined to the aggregates.
with daily as (
    select date_trunc('month', date_day) as month, date_day as day, department_id,
           count(*) as headcount, sum(fte) as fte
    from fct_headcount_daily
    where date_day >= date '2024-01-01'
    group by all
), headcount as (
    select month, d.division, sum(headcount) as headcount, sum(fte) as fte
    from (select *, max(day) over (partition by month) as last_day from daily) as h
    left join dim_departments as d using (department_id)
    where day = last_day
    group by all
), movements as (
    select month, d.division, sum(hires) as hires, sum(leavers) as leavers
    from (select date_trunc('month', movement_date) as month, department_id,
                 count(*) filter (where movement = 'hire') as hires,
                 count(*) filter (where movement = 'exit') as leavers
          from fct_employee_movements
          where movement_date >= date '2024-01-01'
          group by all) as m
    left join dim_departments as d using (department_id)
    group by all
), tasks as (
    select month, d.division, sum(due) as tasks_due, sum(completed) as tasks_completed,
           sum(on_time) as tasks_completed_on_time
    from (select date_trunc('month', due_date) as month, department_id, count(task_id) as due,
                 count(*) filter (where is_completed) as completed,
                 count(*) filter (where is_completed_on_time) as on_time
          from stg_tasks
          where due_date >= date '2024-01-01'
          group by all) as t
    left join dim_departments as d using (department_id)
    group by all
)
select month as metric_time__month, division as department__division,
       h.headcount, h.fte, m.hires, m.leavers,
       m.leavers / nullif(h.headcount, 0) as attrition_rate,
       t.tasks_due,
       t.tasks_completed / nullif(t.tasks_due, 0) as project_completion_rate,
       t.tasks_completed_on_time / nullif(t.tasks_due, 0) as on_time_task_rate
from headcount as h
full join movements as m using (month, division)
full join tasks as t using (month, division)
order by metric_time__month, department__division
