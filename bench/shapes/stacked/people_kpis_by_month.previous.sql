-- Shape: people_kpis_by_month as compiled before stacking and grouping first (8bf73d2)
WITH headcount_rows AS (
  SELECT
    DATE_TRUNC('MONTH', src.date_day) AS metric_time__month,
    j_department.division AS department__division,
    CAST(DATE_TRUNC('DAY', src.date_day) AS DATE) AS __window_day,
    1 AS headcount,
    src.fte AS fte
  FROM "warehouse"."main"."fct_headcount_daily" AS src
  LEFT JOIN "warehouse"."main"."dim_departments" AS j_department
    ON src.department_id = j_department.department_id
  WHERE
    (
      DATE_TRUNC('MONTH', src.date_day) >= '2024-01-01'
    )
), headcount_by_day AS (
  SELECT
    headcount_rows.metric_time__month,
    headcount_rows.department__division,
    headcount_rows.__window_day,
    SUM(headcount_rows.headcount) AS headcount,
    SUM(headcount_rows.fte) AS fte
  FROM headcount_rows
  GROUP BY
    headcount_rows.metric_time__month,
    headcount_rows.department__division,
    headcount_rows.__window_day
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
), group_keys AS (
  SELECT
    metric_time__month,
    department__division
  FROM headcount_agg
  UNION
  SELECT
    metric_time__month,
    department__division
  FROM employee_movements_agg
  UNION
  SELECT
    metric_time__month,
    department__division
  FROM tasks_agg
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  group_keys.department__division AS department__division,
  headcount_agg.headcount AS headcount,
  headcount_agg.fte AS fte,
  employee_movements_agg.hires AS hires,
  employee_movements_agg.leavers AS leavers,
  CAST(employee_movements_agg.leavers AS DOUBLE) / CAST(NULLIF(headcount_agg.headcount, 0) AS DOUBLE) AS attrition_rate,
  tasks_agg.tasks_due AS tasks_due,
  CAST(tasks_agg.tasks_completed AS DOUBLE) / CAST(NULLIF(tasks_agg.tasks_due, 0) AS DOUBLE) AS project_completion_rate,
  CAST(tasks_agg.tasks_completed_on_time AS DOUBLE) / CAST(NULLIF(tasks_agg.tasks_due, 0) AS DOUBLE) AS on_time_task_rate
FROM group_keys
LEFT JOIN headcount_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM headcount_agg.metric_time__month
  AND group_keys.department__division IS NOT DISTINCT FROM headcount_agg.department__division
LEFT JOIN employee_movements_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM employee_movements_agg.metric_time__month
  AND group_keys.department__division IS NOT DISTINCT FROM employee_movements_agg.department__division
LEFT JOIN tasks_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM tasks_agg.metric_time__month
  AND group_keys.department__division IS NOT DISTINCT FROM tasks_agg.department__division
ORDER BY
  metric_time__month ASC,
  department__division ASC