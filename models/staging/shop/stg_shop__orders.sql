-- One row per order: the surviving version of each valid order known by as_of_date.
with base as (

    select * from {{ ref('base_shop__orders') }}

),

final as (

    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as order_date,
        status,
        status = 'completed' as is_purchase,
        order_total,
        discount_total,
        shipping_fee,
        coalesce(order_channel, 'unknown') as order_channel,
        is_subscription,
        subscription_id,
        updated_at,
        _source_file
    from base
    where row_outcome = 'kept'

)

select * from final
