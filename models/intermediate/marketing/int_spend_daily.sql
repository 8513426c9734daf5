-- One row per spend_date x channel: marketing spend mapped through the channel rules. A source no
-- rule maps is `other`: kept and reported, never dropped.
with spend as (

    select * from {{ ref('stg_shop__marketing_spends') }}

),

channels as (

    select * from {{ ref('int_channel_mapping') }}

),

final as (

    select
        spend.spend_date,
        coalesce(channels.channel, 'other') as channel,
        cast(sum(spend.spend) as {{ money_type() }}) as spend
    from spend
    left join channels
        on spend.source_key = channels.source_key
        and spend.medium_key = channels.medium_key
    group by spend.spend_date, coalesce(channels.channel, 'other')

)

select * from final
