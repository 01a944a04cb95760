-- Shape: people_kpis_by_month stacked, rows grouped first where the model asks for it
WITH headcount_grouped AS (
  SELECT
    src.date_day AS date_day,
    src.department_id AS department_id,
    SUM(1) AS headcount,
    SUM(src.fte) AS fte
  FROM "warehouse"."main"."fct_headcount_daily" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.date_day) >= '2024-01-01'
    )
  GROUP BY
    src.date_day,
    src.department_id
), headcount_by_day AS (
  SELECT
    DATE_TRUNC('MONTH', src.date_day) AS metric_time__month,
    j_department.division AS department__division,
    CAST(DATE_TRUNC('DAY', src.date_day) AS DATE) AS __window_day,
    SUM(src.headcount) AS headcount,
    SUM(src.fte) AS fte
  FROM headcount_grouped AS src
  LEFT JOIN "warehouse"."main"."dim_departments" AS j_department
    ON src.department_id = j_department.department_id
  GROUP BY
    DATE_TRUNC('MONTH', src.date_day),
    j_department.division,
    CAST(DATE_TRUNC('DAY', src.date_day) AS DATE)
), headcount_window AS (
  SELECT
    *,
    MAX(headcount_by_day.__window_day) OVER (PARTITION BY headcount_by_day.metric_time__month) AS __window_pick
  FROM headcount_by_day
), headcount_agg AS (
  SELECT
    headcount_window.metric_time__month,
    headcount_window.department__division,
    SUM(headcount_window.headcount) AS headcount,
    SUM(headcount_window.fte) AS fte
  FROM headcount_window
  WHERE
    headcount_window.__window_day = headcount_window.__window_pick
  GROUP BY
    headcount_window.metric_time__month,
    headcount_window.department__division
), employee_movements_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.movement_date) AS metric_time__month,
    j_department.division AS department__division,
    SUM(CASE WHEN src.movement = 'hire' THEN 1 ELSE 0 END) AS hires,
    SUM(CASE WHEN src.movement = 'exit' THEN 1 ELSE 0 END) AS leavers
  FROM "warehouse"."main"."fct_employee_movements" AS src
  LEFT JOIN "warehouse"."main"."dim_departments" AS j_department
    ON src.department_id = j_department.department_id
  WHERE
    (
      DATE_TRUNC('MONTH', src.movement_date) >= '2024-01-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.movement_date),
    j_department.division
), tasks_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.due_date) AS metric_time__month,
    j_department.division AS department__division,
    COUNT(src.task_id) AS tasks_due,
    SUM(CASE WHEN src.is_completed THEN 1 ELSE 0 END) AS tasks_completed,
    SUM(CASE WHEN src.is_completed_on_time THEN 1 ELSE 0 END) AS tasks_completed_on_time
  FROM "warehouse"."main"."stg_tasks" AS src
  LEFT JOIN "warehouse"."main"."dim_departments" AS j_department
    ON src.department_id = j_department.department_id
  WHERE
    (
      DATE_TRUNC('MONTH', src.due_date) >= '2024-01-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.due_date),
    j_department.division
), combined AS (
  SELECT
    metric_time__month,
    department__division,
    MAX(headcount) AS headcount,
    MAX(fte) AS fte,
    MAX(hires) AS hires,
    MAX(leavers) AS leavers,
    MAX(tasks_due) AS tasks_due,
    MAX(tasks_completed) AS tasks_completed,
    MAX(tasks_completed_on_time) AS tasks_completed_on_time
  FROM (
    SELECT
      headcount_agg.metric_time__month,
      headcount_agg.department__division,
      headcount_agg.headcount,
      headcount_agg.fte,
      NULL AS hires,
      NULL AS leavers,
      NULL AS tasks_due,
      NULL AS tasks_completed,
      NULL AS tasks_completed_on_time
    FROM headcount_agg
    UNION ALL
    SELECT
      employee_movements_agg.metric_time__month,
      employee_movements_agg.department__division,
      NULL AS headcount,
      NULL AS fte,
      employee_movements_agg.hires,
      employee_movements_agg.leavers,
      NULL AS tasks_due,
      NULL AS tasks_completed,
      NULL AS tasks_completed_on_time
    FROM employee_movements_agg
    UNION ALL
    SELECT
      tasks_agg.metric_time__month,
      tasks_agg.department__division,
      NULL AS headcount,
      NULL AS fte,
      NULL AS hires,
      NULL AS leavers,
      tasks_agg.tasks_due,
      tasks_agg.tasks_completed,
      tasks_agg.tasks_completed_on_time
    FROM tasks_agg
  ) AS stacked
  GROUP BY
    metric_time__month,
    department__division
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.department__division AS department__division,
  combined.headcount AS headcount,
  combined.fte AS fte,
  combined.hires AS hires,
  combined.leavers AS leavers,
  CAST(combined.leavers AS DOUBLE) / CAST(NULLIF(combined.headcount, 0) AS DOUBLE) AS attrition_rate,
  combined.tasks_due AS tasks_due,
  CAST(combined.tasks_completed AS DOUBLE) / CAST(NULLIF(combined.tasks_due, 0) AS DOUBLE) AS project_completion_rate,
  CAST(combined.tasks_completed_on_time AS DOUBLE) / CAST(NULLIF(combined.tasks_due, 0) AS DOUBLE) AS on_time_task_rate
FROM combined
ORDER BY
  metric_time__month ASC,
  department__division ASC