-- The compiler's SQL with the base events (visits) held twice, with their bucket and the next one, instead of
-- the conversion events (orders): the orders are numbered once and probe a table of 2M visit rows.
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
), orders_read AS MATERIALIZED (
  SELECT
    src.ordered_at,
    src.order_id,
    src.customer_id
  FROM "warehouse"."main"."stg_orders" AS src
), orders_agg AS (
  SELECT
    DATE_TRUNC('MONTH', src.ordered_at) AS metric_time__month,
    COUNT(src.order_id) AS orders
  FROM orders_read AS src
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
), inventory_balances_days AS (
  SELECT
    src.balance_date AS __time_1,
    SUM(src.inventory_value) AS inventory_value
  FROM "warehouse"."main"."stg_inventory_balances" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.balance_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
  GROUP BY
    src.balance_date
), inventory_balances_by_day AS (
  SELECT
    DATE_TRUNC('MONTH', __time_1) AS metric_time__month,
    CAST(DATE_TRUNC('DAY', __time_1) AS DATE) AS __window_day,
    inventory_value AS inventory_value
  FROM inventory_balances_days
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
    DATE_TRUNC('MONTH', src.__time_1) AS metric_time__month,
    COUNT(DISTINCT src.__time_1) AS inventory_days
  FROM inventory_balances_days AS src
  GROUP BY
    DATE_TRUNC('MONTH', src.__time_1)
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
), sales_visits_base_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.visit_date) AS DATE) AS __day,
    src.customer_id AS __entity,
    DATE_TRUNC('MONTH', src.visit_date) AS metric_time__month,
    src.visit_id AS __base_measure_0
  FROM "warehouse"."main"."stg_sales_visits" AS src
  WHERE
    (
      DATE_TRUNC('MONTH', src.visit_date) BETWEEN '2024-01-01' AND '2025-06-01'
    )
), sales_visits_agg AS (
  SELECT
    sales_visits_base_events.metric_time__month,
    COUNT(sales_visits_base_events.__base_measure_0) AS sales_visits
  FROM sales_visits_base_events
  GROUP BY
    sales_visits_base_events.metric_time__month
), orders_conversion_events AS (
  SELECT
    CAST(DATE_TRUNC('DAY', src.ordered_at) AS DATE) AS __day,
    src.customer_id AS __entity,
    src.order_id AS __value
  FROM orders_read AS src
), orders_converting AS (
  SELECT
    *
  FROM orders_conversion_events
  WHERE
    orders_conversion_events.__entity IN (
      SELECT
        sales_visits_base_events.__entity
      FROM sales_visits_base_events
    )
), orders_numbered AS (
  SELECT *, ROW_NUMBER() OVER () AS __conversion_id, DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), __day) // 14 AS __bucket FROM orders_converting
), visits_keyed AS (
  SELECT v.__day, v.__entity, v.metric_time__month, DATE_DIFF('DAY', CAST('1970-01-01' AS DATE), v.__day) // 14 + s.__shift AS __bucket
  FROM sales_visits_base_events AS v CROSS JOIN (VALUES (0), (1)) AS s(__shift)
), orders_attributed AS (
  SELECT v.metric_time__month, o.__value
  FROM orders_numbered AS o JOIN visits_keyed AS v ON v.__entity = o.__entity AND v.__bucket = o.__bucket
  WHERE v.__day <= o.__day AND v.__day > o.__day - INTERVAL '14' DAY
  QUALIFY ROW_NUMBER() OVER (PARTITION BY o.__conversion_id ORDER BY v.__day DESC) = 1
), orders_conversions AS (
  SELECT
    orders_attributed.metric_time__month,
    COUNT(orders_attributed.__value) AS orders__2
  FROM orders_attributed
  GROUP BY
    orders_attributed.metric_time__month
), combined AS (
  SELECT
    metric_time__month,
    MAX(revenue) AS revenue,
    MAX(cost_of_goods) AS cost_of_goods,
    MAX(orders) AS orders,
    MAX(new_customers) AS new_customers,
    MAX(marketing_spend) AS marketing_spend,
    MAX(run_minutes) AS run_minutes,
    MAX(planned_minutes) AS planned_minutes,
    MAX(ideal_run_minutes) AS ideal_run_minutes,
    MAX(good_units) AS good_units,
    MAX(units_produced) AS units_produced,
    MAX(inventory_value) AS inventory_value,
    MAX(inventory_days) AS inventory_days,
    MAX(tasks_completed) AS tasks_completed,
    MAX(tasks_due) AS tasks_due,
    MAX(sales_visits) AS sales_visits,
    MAX(orders__2) AS orders__2
  FROM (
    SELECT
      order_lines_agg.metric_time__month,
      order_lines_agg.revenue,
      order_lines_agg.cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM order_lines_agg
    UNION ALL
    SELECT
      orders_agg.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      orders_agg.orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM orders_agg
    UNION ALL
    SELECT
      customers_spine.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      customers_spine.new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM customers_spine
    UNION ALL
    SELECT
      campaign_spend_agg.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      campaign_spend_agg.marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM campaign_spend_agg
    UNION ALL
    SELECT
      production_runs_agg.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      production_runs_agg.run_minutes,
      production_runs_agg.planned_minutes,
      production_runs_agg.ideal_run_minutes,
      production_runs_agg.good_units,
      production_runs_agg.units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM production_runs_agg
    UNION ALL
    SELECT
      inventory_balances_agg.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      inventory_balances_agg.inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM inventory_balances_agg
    UNION ALL
    SELECT
      inventory_balances_agg_2.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      inventory_balances_agg_2.inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM inventory_balances_agg_2
    UNION ALL
    SELECT
      tasks_agg.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      tasks_agg.tasks_completed,
      tasks_agg.tasks_due,
      NULL AS sales_visits,
      NULL AS orders__2
    FROM tasks_agg
    UNION ALL
    SELECT
      sales_visits_agg.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      sales_visits_agg.sales_visits,
      NULL AS orders__2
    FROM sales_visits_agg
    UNION ALL
    SELECT
      orders_conversions.metric_time__month,
      NULL AS revenue,
      NULL AS cost_of_goods,
      NULL AS orders,
      NULL AS new_customers,
      NULL AS marketing_spend,
      NULL AS run_minutes,
      NULL AS planned_minutes,
      NULL AS ideal_run_minutes,
      NULL AS good_units,
      NULL AS units_produced,
      NULL AS inventory_value,
      NULL AS inventory_days,
      NULL AS tasks_completed,
      NULL AS tasks_due,
      NULL AS sales_visits,
      orders_conversions.orders__2
    FROM orders_conversions
  ) AS stacked
  GROUP BY
    metric_time__month
)
SELECT
  combined.metric_time__month AS metric_time__month,
  combined.revenue AS revenue,
  (
    CAST(100 * (
      (
        (
          combined.revenue
        ) - (
          combined.cost_of_goods
        )
      )
    ) AS DOUBLE) / NULLIF((
      combined.revenue
    ), 0)
  ) AS gross_margin_pct,
  CAST(combined.revenue AS DOUBLE) / CAST(NULLIF(combined.orders, 0) AS DOUBLE) AS average_order_value,
  COALESCE(combined.new_customers, 0) AS new_customers,
  CAST(combined.marketing_spend AS DOUBLE) / CAST(NULLIF(COALESCE(combined.new_customers, 0), 0) AS DOUBLE) AS customer_acquisition_cost,
  (
    (
      CAST(combined.run_minutes AS DOUBLE) / CAST(NULLIF(combined.planned_minutes, 0) AS DOUBLE)
    ) * (
      CAST(combined.ideal_run_minutes AS DOUBLE) / CAST(NULLIF(combined.run_minutes, 0) AS DOUBLE)
    ) * (
      CAST(combined.good_units AS DOUBLE) / CAST(NULLIF(combined.units_produced, 0) AS DOUBLE)
    )
  ) AS oee,
  (
    CAST((
      combined.inventory_value
    ) * (
      combined.inventory_days
    ) AS DOUBLE) / NULLIF((
      combined.cost_of_goods
    ), 0)
  ) AS inventory_turnover_days,
  CAST(combined.tasks_completed AS DOUBLE) / CAST(NULLIF(combined.tasks_due, 0) AS DOUBLE) AS project_completion_rate,
  CAST(combined.orders__2 AS DOUBLE) / CAST(NULLIF(combined.sales_visits, 0) AS DOUBLE) AS sales_visit_conversion_rate
FROM combined
ORDER BY
  metric_time__month ASC
