-- One row per delivery_number x cancel_reason: cancelled subscriptions by the delivery after which
-- they stopped (their count_deliveries; 13 = 13回目以降, 0 = cancelled before any delivery) and
-- the reason as the shop recorded it (`unknown` when empty; always `unknown` for inferred ones).
--   share_of_cancellations = count_subscriptions / all cancellations at that delivery_number
with subscriptions as (

    select
        case when count_deliveries > 13 then 13 else count_deliveries end as delivery_number,
        cancel_reason
    from {{ ref('fct_subscriptions') }}
    where status = 'cancelled'

),

counted as (

    select
        delivery_number,
        cancel_reason,
        cast(count(*) as bigint) as count_subscriptions
    from subscriptions
    group by delivery_number, cancel_reason

),

final as (

    select
        cast(delivery_number as integer) as delivery_number,
        cancel_reason,
        count_subscriptions,
        {{ safe_divide('count_subscriptions', 'sum(count_subscriptions) over (partition by delivery_number)') }} as share_of_cancellations
    from counted

)

select * from final
