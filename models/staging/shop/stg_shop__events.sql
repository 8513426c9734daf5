-- One row per web/app event (first arrival of each event_id) that occurred by as_of_date.
with base as (

    select * from {{ ref('base_shop__events') }}

),

final as (

    select
        event_id,
        session_id,
        anonymous_id,
        customer_id,
        event_type,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        product_id,
        order_id,
        utm_source,
        utm_medium,
        utm_campaign,
        {{ channel_key('utm_source') }} as source_key,
        {{ channel_key('utm_medium') }} as medium_key,
        coalesce(device, 'unknown') as device,
        _source_file
    from base
    where row_outcome = 'kept'

)

select * from final
