-- One row per web/app session that started by as_of_date: landing event, channel, device, the
-- funnel steps it reached, the order it purchased and the known customer. A session reached a
-- step if it had that event or a later one (a purchase with no recorded cart still reached the
-- cart). The customer is the one the session's events name, else the one customer its
-- anonymous_id was ever seen with by as_of_date.
-- Sessions come summarised from int_session_summaries (incremental, every event loaded); a
-- session with events after as_of_date (a backfilled day, a session across the as_of midnight) is
-- summarised again from its events known by as_of_date, so the result is the same as summarising
-- stg_shop__events whole.
{#- Each input is read where it is used, not through a shared CTE: DuckDB materialises a CTE
    that is read twice (decision log 87), which here copied 48M events or 21M sessions. -#}
{%- set partial_events -%}
    (
        select * from {{ ref('stg_shop__events') }}
        where session_id in (
            select session_id from {{ ref('int_session_summaries') }}
            where started_at < {{ as_of_end() }}
                and ended_at >= {{ as_of_end() }}
        )
    )
{%- endset %}

with channels as (

    select * from {{ ref('int_channel_mapping') }}

),

-- sessions that started by as_of_date: summarised already when they ended by then; summarised
-- again from the events known by as_of_date when they have later events
summarised as (

    select * from {{ ref('int_session_summaries') }}
    where started_at < {{ as_of_end() }}
        and ended_at < {{ as_of_end() }}
    union all
    {{ summarise_sessions(partial_events) }}

),

-- an anonymous_id seen with exactly one customer identifies that customer's other sessions
known_devices as (

    select
        anonymous_id,
        max(customer_id) as customer_id
    from {{ ref('stg_shop__events') }}
    where customer_id is not null
    group by anonymous_id
    having count(distinct customer_id) = 1

),

final as (

    select
        summarised.session_id,
        summarised.started_at,
        summarised.ended_at,
        summarised.session_date,
        coalesce(channels.channel, 'other') as channel,
        summarised.device,
        summarised.utm_source,
        summarised.utm_medium,
        summarised.utm_campaign,
        coalesce(summarised.customer_id, known_devices.customer_id) as customer_id,
        summarised.customer_id is null and known_devices.customer_id is not null as is_customer_stitched,
        summarised.had_product_view + summarised.had_add_to_cart + summarised.had_checkout_start + summarised.had_purchase > 0 as has_product_view,
        summarised.had_add_to_cart + summarised.had_checkout_start + summarised.had_purchase > 0 as has_add_to_cart,
        summarised.had_checkout_start + summarised.had_purchase > 0 as has_checkout_start,
        summarised.had_purchase > 0 as has_purchase,
        summarised.had_add_to_cart + summarised.had_checkout_start + summarised.had_purchase > 0
            and summarised.had_purchase = 0 as is_cart_abandoned,
        summarised.order_id,
        summarised.count_events
    from summarised
    left join channels
        on summarised.source_key = channels.source_key
        and summarised.medium_key = channels.medium_key
    left join known_devices
        on summarised.anonymous_id = known_devices.anonymous_id

)

select * from final
