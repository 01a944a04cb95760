-- Daily spend, impressions and clicks per campaign. Ad platforms bill in USD: spend is converted to EUR.
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
