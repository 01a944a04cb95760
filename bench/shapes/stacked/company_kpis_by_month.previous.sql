-- Shape: company_kpis_by_month as compiled before stacking and grouping first (8bf73d2)
WITH order_lines_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    SUM(src.quantity * src.net_unit_price) AS revenue,
    SUM(src.quantity * src.unit_cost) AS cost_of_goods
  FROM "warehouse"."main"."stg_order_lines" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.ordered_at) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at)
), orders_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    COUNT(src.order_id) AS orders
  FROM "warehouse"."main"."stg_orders" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.ordered_at) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.ordered_at)
), customers_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.signup_date) AS metric_time__month,
    COUNT(src.customer_id) AS new_customers
  FROM "warehouse"."main"."stg_customers" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.signup_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.signup_date)
), customers_spine AS (
  SELECT
    periods.metric_time__month AS metric_time__month,
    customers_agg.new_customers AS new_customers
  FROM (
    SELECT DISTINCT
      DATE_TRUNC('MONTH', time_spine.date_day) AS metric_time__month
    FROM "warehouse"."main"."metricflow_time_spine" AS time_spine
    WHERE
      (
        DATE_TRUNC('MONTH', time_spine.date_day) BETWEEN '2024-01-01' AND '2025-06-01'
      )
  ) AS periods
  LEFT JOIN customers_agg
    ON periods.metric_time__month = customers_agg.metric_time__month
), campaign_spend_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.spend_date) AS metric_time__month,
    SUM(src.spend_eur) AS marketing_spend
  FROM "warehouse"."main"."stg_campaign_spend" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.spend_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.spend_date)
), production_runs_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.run_date) AS metric_time__month,
    SUM(src.run_minutes) AS run_minutes,
    SUM(src.planned_minutes) AS planned_minutes,
    SUM(src.ideal_run_minutes) AS ideal_run_minutes,
    SUM(src.good_units) AS good_units,
    SUM(src.units_produced) AS units_produced
  FROM "warehouse"."main"."stg_production_runs" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.run_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.run_date)
), inventory_balances_rows AS (
  SELECT
    DATE_TRUNC('MONTH', src.balance_date) AS metric_time__month,
    CAST(DATE_TRUNC('DAY', src.balance_date) AS DATE) AS __window_day,
    src.inventory_value AS inventory_value
  FROM "warehouse"."main"."stg_inventory_balances" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.balance_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
), inventory_balances_by_day AS (
  SELECT
    inventory_balances_rows.metric_time__month,
    inventory_balances_rows.__window_day,
    SUM(inventory_balances_rows.inventory_value) AS inventory_value
  FROM inventory_balances_rows
  GROUP BY
    inventory_balances_rows.metric_time__month,
    inventory_balances_rows.__window_day
), inventory_balances_window AS (
  SELECT
    *,
    MAX(inventory_balances_by_day.__window_day) OVER (PARTITION BY inventory_balances_by_day.metric_time__month) AS __window_pick
  FROM inventory_balances_by_day
), inventory_balances_agg AS (
  SELECT
    inventory_balances_window.metric_time__month,
    SUM(inventory_balances_window.inventory_value) AS inventory_value
  FROM inventory_balances_window
  WHERE
    inventory_balances_window.__window_day = inventory_balances_window.__window_pick
  GROUP BY
    inventory_balances_window.metric_time__month
), inventory_balances_agg_2 AS (
  SELECT
    DATE_TRUNC('MONTH', src.balance_date) AS metric_time__month,
    COUNT(DISTINCT src.balance_date) AS inventory_days
  FROM "warehouse"."main"."stg_inventory_balances" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.balance_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.balance_date)
), tasks_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.due_date) AS metric_time__month,
    SUM(CASE WHEN src.is_completed THEN 1 ELSE 0 END) AS tasks_completed,
    COUNT(src.task_id) AS tasks_due
  FROM "warehouse"."main"."stg_tasks" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.due_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.due_date)
), sales_visits_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.visit_date) AS metric_time__month,
    COUNT(src.visit_id) AS sales_visits
  FROM "warehouse"."main"."stg_sales_visits" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.visit_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    DATE_TRUNC('MONTH', src.visit_date)
), sales_visits_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.visit_date) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.visit_date) AS metric_time__month
  FROM "warehouse"."main"."stg_sales_visits" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.visit_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
), orders_conversion_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM "warehouse"."main"."stg_orders" AS src
), orders_attributed AS (
  SELECT
    sales_visits_base_events.metric_time__month,
    orders_conversion_events.__value
  FROM orders_conversion_events
  ASOF JOIN sales_visits_base_events
    ON sales_visits_base_events.__entity = orders_conversion_events.__entity
    AND sales_visits_base_events.__day <= orders_conversion_events.__day
  WHERE
    sales_visits_base_events.__day > orders_conversion_events.__day - INTERVAL '14' DAY
), orders_conversions AS (
  SELECT
    orders_attributed.metric_time__month,
    COUNT(orders_attributed.__value) AS orders__2
  FROM orders_attributed
  GROUP BY
    orders_attributed.metric_time__month
), group_keys AS (
  SELECT
    metric_time__month
  FROM order_lines_agg
  UNION
  SELECT
    metric_time__month
  FROM orders_agg
  UNION
  SELECT
    metric_time__month
  FROM customers_spine
  UNION
  SELECT
    metric_time__month
  FROM campaign_spend_agg
  UNION
  SELECT
    metric_time__month
  FROM production_runs_agg
  UNION
  SELECT
    metric_time__month
  FROM inventory_balances_agg
  UNION
  SELECT
    metric_time__month
  FROM inventory_balances_agg_2
  UNION
  SELECT
    metric_time__month
  FROM tasks_agg
  UNION
  SELECT
    metric_time__month
  FROM sales_visits_agg
  UNION
  SELECT
    metric_time__month
  FROM orders_conversions
)
SELECT
  group_keys.metric_time__month AS metric_time__month,
  order_lines_agg.revenue AS revenue,
  (
    CAST(100 * (
      (
        (
          order_lines_agg.revenue
        ) - (
          order_lines_agg.cost_of_goods
        )
      )
    ) AS DOUBLE) / NULLIF((
      order_lines_agg.revenue
    ), 0)
  ) AS gross_margin_pct,
  CAST(order_lines_agg.revenue AS DOUBLE) / CAST(NULLIF(orders_agg.orders, 0) AS DOUBLE) AS average_order_value,
  COALESCE(customers_spine.new_customers, 0) AS new_customers,
  CAST(campaign_spend_agg.marketing_spend AS DOUBLE) / CAST(NULLIF(COALESCE(customers_spine.new_customers, 0), 0) AS DOUBLE) AS customer_acquisition_cost,
  (
    (
      CAST(production_runs_agg.run_minutes AS DOUBLE) / CAST(NULLIF(production_runs_agg.planned_minutes, 0) AS DOUBLE)
    ) * (
      CAST(production_runs_agg.ideal_run_minutes AS DOUBLE) / CAST(NULLIF(production_runs_agg.run_minutes, 0) AS DOUBLE)
    ) * (
      CAST(production_runs_agg.good_units AS DOUBLE) / CAST(NULLIF(production_runs_agg.units_produced, 0) AS DOUBLE)
    )
  ) AS oee,
  (
    CAST((
      inventory_balances_agg.inventory_value
    ) * (
      inventory_balances_agg_2.inventory_days
    ) AS DOUBLE) / NULLIF((
      order_lines_agg.cost_of_goods
    ), 0)
  ) AS inventory_turnover_days,
  CAST(tasks_agg.tasks_completed AS DOUBLE) / CAST(NULLIF(tasks_agg.tasks_due, 0) AS DOUBLE) AS project_completion_rate,
  CAST(orders_conversions.orders__2 AS DOUBLE) / CAST(NULLIF(sales_visits_agg.sales_visits, 0) AS DOUBLE) AS sales_visit_conversion_rate
FROM group_keys
LEFT JOIN order_lines_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM order_lines_agg.metric_time__month
LEFT JOIN orders_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_agg.metric_time__month
LEFT JOIN customers_spine
  ON group_keys.metric_time__month IS NOT DISTINCT FROM customers_spine.metric_time__month
LEFT JOIN campaign_spend_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM campaign_spend_agg.metric_time__month
LEFT JOIN production_runs_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM production_runs_agg.metric_time__month
LEFT JOIN inventory_balances_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM inventory_balances_agg.metric_time__month
LEFT JOIN inventory_balances_agg_2
  ON group_keys.metric_time__month IS NOT DISTINCT FROM inventory_balances_agg_2.metric_time__month
LEFT JOIN tasks_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM tasks_agg.metric_time__month
LEFT JOIN sales_visits_agg
  ON group_keys.metric_time__month IS NOT DISTINCT FROM sales_visits_agg.metric_time__month
LEFT JOIN orders_conversions
  ON group_keys.metric_time__month IS NOT DISTINCT FROM orders_conversions.metric_time__month
ORDER BY
  metric_time__month ASC