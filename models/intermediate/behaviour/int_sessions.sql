-- One row per web/app session: landing event, channel, device, the funnel steps it reached, the
-- order it purchased and the known customer. A session reached a step if it had that event or a
-- later one (a purchase with no recorded cart still reached the cart). The customer is the one
-- the session's events name, else the one customer its anonymous_id was ever seen with.
with events as (

    select * from {{ ref('stg_shop__events') }}

),

channels as (

    select * from {{ ref('int_channel_mapping') }}

),

sequenced as (

    select
        *,
        row_number() over (partition by session_id order by occurred_at, event_id) as event_sequence
    from events

),

landing as (

    select
        sequenced.session_id,
        sequenced.occurred_at as started_at,
        sequenced.occurred_date as session_date,
        sequenced.anonymous_id,
        sequenced.device,
        sequenced.utm_source,
        sequenced.utm_medium,
        sequenced.utm_campaign,
        coalesce(channels.channel, 'other') as channel
    from sequenced
    left join channels
        on sequenced.source_key = channels.source_key
        and sequenced.medium_key = channels.medium_key
    where sequenced.event_sequence = 1

),

-- an anonymous_id seen with exactly one customer identifies that customer's other sessions
known_devices as (

    select
        anonymous_id,
        max(customer_id) as customer_id
    from events
    where customer_id is not null
    group by anonymous_id
    having count(distinct customer_id) = 1

),

steps as (

    select
        session_id,
        max(customer_id) as customer_id,
        max(case when event_type = 'product_view' then 1 else 0 end) as had_product_view,
        max(case when event_type = 'add_to_cart' then 1 else 0 end) as had_add_to_cart,
        max(case when event_type = 'checkout_start' then 1 else 0 end) as had_checkout_start,
        max(case when event_type = 'purchase' then 1 else 0 end) as had_purchase,
        max(case when event_type = 'purchase' then order_id end) as order_id,
        max(occurred_at) as ended_at,
        cast(count(*) as bigint) as count_events
    from events
    group by session_id

),

final as (

    select
        landing.session_id,
        landing.started_at,
        steps.ended_at,
        landing.session_date,
        landing.channel,
        landing.device,
        landing.utm_source,
        landing.utm_medium,
        landing.utm_campaign,
        coalesce(steps.customer_id, known_devices.customer_id) as customer_id,
        steps.customer_id is null and known_devices.customer_id is not null as is_customer_stitched,
        steps.had_product_view + steps.had_add_to_cart + steps.had_checkout_start + steps.had_purchase > 0 as has_product_view,
        steps.had_add_to_cart + steps.had_checkout_start + steps.had_purchase > 0 as has_add_to_cart,
        steps.had_checkout_start + steps.had_purchase > 0 as has_checkout_start,
        steps.had_purchase > 0 as has_purchase,
        steps.had_add_to_cart + steps.had_checkout_start + steps.had_purchase > 0
            and steps.had_purchase = 0 as is_cart_abandoned,
        steps.order_id,
        steps.count_events
    from landing
    inner join steps
        on landing.session_id = steps.session_id
    left join known_devices
        on landing.anonymous_id = known_devices.anonymous_id

)

select * from final
