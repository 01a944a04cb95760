-- Daily spend, impressions and clicks per campaign. Ad platforms bill in USD: spend is converted to EUR.
-- Incremental by date: a campaign's spend for a day is one row (campaign_day_id: campaign, day) that the ad
-- platforms report the morning after and may restate, or report late, within 10 days. The source carries no
-- load time, so a run rebuilds the days from the latest day the table holds minus 10: it deletes them (the
-- pre-hook) and selects them again from the source, whatever they hold now (macros/portable.sql).
{{ config(materialized=keyed_incremental(), incremental_strategy='append',
          meta={'metricsctl': {'lookback_column': 'spend_date', 'lookback_days': 10}},
          pre_hook="{% if is_incremental() %}{{ lookback_delete() }}{% endif %}") }}
select
    concat_ws('-', cast(s.campaign_id as {{ dbt.type_string() }}), {{ date_text('s.spend_date', compact=true) }}) as campaign_day_id,
    cast(s.spend_date as date) as spend_date,
    cast(s.campaign_id as integer) as campaign_id,
    c.channel_id,
    s.currency as billing_currency,
    cast(s.spend as {{ type_double() }}) as spend_local,
    {{ round_half_up('s.spend * fx.eur_per_unit', 2) }} as spend_eur,
    cast(s.impressions as integer) as impressions,
    cast(s.clicks as integer) as clicks
from {{ ref('campaign_spend') }} as s
join {{ ref('stg_campaigns') }} as c on c.campaign_id = s.campaign_id
left join {{ ref('stg_fx_rates') }} as fx
    on fx.currency = s.currency and fx.month_start = cast({{ dbt.date_trunc('month', 'cast(s.spend_date as date)') }} as date)
{% if is_incremental() %}
where {{ lookback_rebuilt('cast(s.spend_date as date)') }}
{% endif %}
