-- Shape: channel_roi_by_week stacked, rows grouped first where the model asks for it
WITH campaign_spend_agg AS (
  SELECT
    DATE_TRUNC('WEEK', src.spend_date) AS metric_time__week,
    j_channel.channel_name AS channel__channel_name,
    SUM(src.spend_eur) AS marketing_spend
  FROM "warehouse"."main"."stg_campaign_spend" AS src
  LEFT JOIN "warehouse"."main"."stg_marketing_channels" AS j_channel
    ON src.channel_id = j_channel.channel_id
  GROUP BY
    DATE_TRUNC('WEEK', src.spend_date),
    j_channel.channel_name
), attributed_orders_agg AS (
  SELECT
    DATE_TRUNC('WEEK', src.ordered_at) AS metric_time__week,
    j_channel.channel_name AS channel__channel_name,
    COUNT(src.order_id) AS attributed_orders,
    SUM(src.attributed_revenue) AS attributed_revenue,
    SUM(src.attributed_gross_profit) AS attributed_gross_profit
  FROM "warehouse"."main"."fct_attributed_orders" AS src
  LEFT JOIN "warehouse"."main"."stg_marketing_channels" AS j_channel
    ON src.channel_id = j_channel.channel_id
  GROUP BY
    DATE_TRUNC('WEEK', src.ordered_at),
    j_channel.channel_name
), combined AS (
  SELECT
    metric_time__week,
    channel__channel_name,
    MAX(marketing_spend) AS marketing_spend,
    MAX(attributed_orders) AS attributed_orders,
    MAX(attributed_revenue) AS attributed_revenue,
    MAX(attributed_gross_profit) AS attributed_gross_profit
  FROM (
    SELECT
      campaign_spend_agg.metric_time__week,
      campaign_spend_agg.channel__channel_name,
      campaign_spend_agg.marketing_spend,
      NULL AS attributed_orders,
      NULL AS attributed_revenue,
      NULL AS attributed_gross_profit
    FROM campaign_spend_agg
    UNION ALL
    SELECT
      attributed_orders_agg.metric_time__week,
      attributed_orders_agg.channel__channel_name,
      NULL AS marketing_spend,
      attributed_orders_agg.attributed_orders,
      attributed_orders_agg.attributed_revenue,
      attributed_orders_agg.attributed_gross_profit
    FROM attributed_orders_agg
  ) AS stacked
  GROUP BY
    metric_time__week,
    channel__channel_name
)
SELECT
  combined.metric_time__week AS metric_time__week,
  combined.channel__channel_name AS channel__channel_name,
  combined.marketing_spend AS marketing_spend,
  combined.attributed_orders AS attributed_orders,
  combined.attributed_revenue AS attributed_revenue,
  combined.attributed_gross_profit AS attributed_gross_profit,
  CAST(combined.attributed_gross_profit AS DOUBLE) / CAST(NULLIF(combined.marketing_spend, 0) AS DOUBLE) AS channel_roi,
  CAST(combined.attributed_revenue AS DOUBLE) / CAST(NULLIF(combined.marketing_spend, 0) AS DOUBLE) AS return_on_ad_spend
FROM combined
ORDER BY
  metric_time__week ASC,
  channel__channel_name ASC