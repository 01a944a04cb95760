-- Hires and exits, one row per movement (macros/people.sql). Rebuilt whole by each run; the run first adds the
-- earliest day of the movements it adds, removes or changes to fct_employee_movements_rewrites, from which
-- metric_values recomputes the hires, leavers and attrition rate.
-- depends_on: {{ ref('fct_employee_movements_rewrites') }}
{{ config(pre_hook="{{ record_changed_rows('fct_employee_movements_rewrites', employee_movements(), 'movement_id',
                                            'movement_date', ['employee_id', 'department_id', 'movement']) }}") }}
{{ employee_movements() }}
