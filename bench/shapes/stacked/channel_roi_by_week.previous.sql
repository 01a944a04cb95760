-- Shape: channel_roi_by_week as compiled before stacking and grouping first (8bf73d2)
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
), group_keys AS (
  SELECT
    metric_time__week,
    channel__channel_name
  FROM campaign_spend_agg
  UNION
  SELECT
    metric_time__week,
    channel__channel_name
  FROM attributed_orders_agg
)
SELECT
  group_keys.metric_time__week AS metric_time__week,
  group_keys.channel__channel_name AS channel__channel_name,
  campaign_spend_agg.marketing_spend AS marketing_spend,
  attributed_orders_agg.attributed_orders AS attributed_orders,
  attributed_orders_agg.attributed_revenue AS attributed_revenue,
  attributed_orders_agg.attributed_gross_profit AS attributed_gross_profit,
  CAST(attributed_orders_agg.attributed_gross_profit AS DOUBLE) / CAST(NULLIF(campaign_spend_agg.marketing_spend, 0) AS DOUBLE) AS channel_roi,
  CAST(attributed_orders_agg.attributed_revenue AS DOUBLE) / CAST(NULLIF(campaign_spend_agg.marketing_spend, 0) AS DOUBLE) AS return_on_ad_spend
FROM group_keys
LEFT JOIN campaign_spend_agg
  ON group_keys.metric_time__week IS NOT DISTINCT FROM campaign_spend_agg.metric_time__week
  AND group_keys.channel__channel_name IS NOT DISTINCT FROM campaign_spend_agg.channel__channel_name
LEFT JOIN attributed_orders_agg
  ON group_keys.metric_time__week IS NOT DISTINCT FROM attributed_orders_agg.metric_time__week
  AND group_keys.channel__channel_name IS NOT DISTINCT FROM attributed_orders_agg.channel__channel_name
ORDER BY
  metric_time__week ASC,
  channel__channel_name ASC