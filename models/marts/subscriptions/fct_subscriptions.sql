-- One row per 定期 subscription known by as_of_date (int_subscriptions: a contract, or one inferred
-- from is_subscription orders when the shop has no contract table) with its acquisition channel.
-- eligible_deliveries: how many deliveries the subscription is old enough to have reached: delivery
-- 1 always; delivery n >= 2 when started_date + (n - 1) x interval_days + grace <= as_of_date
-- (var subscription_delivery_grace_days), the censoring rule of subscription_retention.
{%- set grace = var('subscription_delivery_grace_days') %}
with subscriptions as (

    select * from {{ ref('int_subscriptions') }}

),

acquisition as (

    select * from {{ ref('int_customer_acquisition') }}

),

final as (

    select
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.product_id,
        subscriptions.started_date,
        {{ month_text('subscriptions.started_date') }} as cohort_month,
        subscriptions.interval_days,
        subscriptions.status,
        subscriptions.cancelled_date,
        subscriptions.cancel_reason,
        subscriptions.offer_code,
        coalesce(acquisition.acquisition_channel, 'unknown') as acquisition_channel,
        subscriptions.count_deliveries,
        subscriptions.count_product_switches,
        subscriptions.last_delivery_date,
        cast(subscriptions.delivery_revenue as decimal(18, 2)) as delivery_revenue,
        cast(case
            when {{ days_between('subscriptions.started_date', as_of_date()) }} < {{ grace }} + subscriptions.interval_days then 1
            else 1 + floor(cast({{ days_between('subscriptions.started_date', as_of_date()) }} - {{ grace }} as double) / subscriptions.interval_days)
        end as bigint) as eligible_deliveries,
        subscriptions.is_inferred,
        {{ as_of_date() }} as as_of_date
    from subscriptions
    left join acquisition
        on subscriptions.customer_id = acquisition.customer_id

)

select * from final
