-- One row per spend_date x utm_source x utm_medium x utm_campaign (re-sent rows replaced).
with base as (

    select * from {{ ref('base_shop__marketing_spend') }}

),

final as (

    select
        spend_date,
        utm_source,
        utm_medium,
        utm_campaign,
        {{ channel_key('utm_source') }} as source_key,
        {{ channel_key('utm_medium') }} as medium_key,
        spend,
        _source_file
    from base
    where row_outcome = 'kept'

)

select * from final
