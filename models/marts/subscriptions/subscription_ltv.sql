-- One row per acquisition_channel x offer_code (each also `all`): 定期 LTV beside the channel's
-- CAC, so an entry offer that buys short-lived subscribers (初回割引) shows.
--   value_per_delivery        delivery revenue / deliveries (order_total of the delivered orders,
--                             the discounted first one included)
--   realised_ltv              delivery revenue per subscription so far
--   projected_deliveries      expected deliveries among the first N (var subscription_ltv_deliveries)
--                             = sum_{n=1..N} S(n - 1) of the sBG fit of (channel, product `all`,
--                             offer) pooled over cohorts; null without a fit
--   projected_ltv             projected_deliveries x value_per_delivery
--   cac                       the channel's spend / new customers over every cohort of
--                             channel_acquisition (all channels for `all`); per new customer, not
--                             per subscriber; null with no new customers
--   projected_ltv_to_cac      projected_ltv / cac (null when cac is 0 or null)
{%- set dims = ['acquisition_channel', 'offer_code'] %}
{%- set horizon = var('subscription_ltv_deliveries') %}
with subscriptions as (

    select * from {{ ref('fct_subscriptions') }}

),

projections as (

    select * from {{ ref('int_subscription_projections') }}

),

acquisition as (

    select * from {{ ref('channel_acquisition') }}

),

grouped as (

{%- set measures %}
        cast(count(*) as bigint) as count_subscriptions,
        cast(sum(count_deliveries) as bigint) as count_deliveries,
        cast(sum(delivery_revenue) as decimal(18, 2)) as delivery_revenue
{%- endset %}
{{ roll_up_to_all(dims, measures, 'subscriptions') }}

),

projected as (

    select
        acquisition_channel,
        offer_code,
        {{ exact_sum('projected_retention_rate') }} as projected_deliveries
    from projections
    where product_id = 'all'
        and delivery_number <= {{ horizon }}
    group by acquisition_channel, offer_code

),

channel_cac as (

    select
        acquisition_channel,
        {{ safe_divide('sum(spend)', 'sum(count_new_customers)') }} as cac
    from acquisition
    group by acquisition_channel
    union all
    select
        'all' as acquisition_channel,
        {{ safe_divide('sum(spend)', 'sum(count_new_customers)') }} as cac
    from acquisition

),

final as (

    select
        grouped.acquisition_channel,
        grouped.offer_code,
        grouped.count_subscriptions,
        grouped.count_deliveries,
        {{ safe_divide('grouped.count_deliveries', 'grouped.count_subscriptions') }} as realised_deliveries_per_subscription,
        {{ safe_divide('grouped.delivery_revenue', 'grouped.count_deliveries') }} as value_per_delivery,
        {{ safe_divide('grouped.delivery_revenue', 'grouped.count_subscriptions') }} as realised_ltv,
        cast(projected.projected_deliveries as double) as projected_deliveries,
        cast(projected.projected_deliveries * {{ safe_divide('grouped.delivery_revenue', 'grouped.count_deliveries') }} as double) as projected_ltv,
        cast(channel_cac.cac as double) as cac,
        {{ safe_divide('projected.projected_deliveries * ' ~ safe_divide('grouped.delivery_revenue', 'grouped.count_deliveries'), 'channel_cac.cac') }} as projected_ltv_to_cac
    from grouped
    left join projected
        on grouped.acquisition_channel = projected.acquisition_channel
        and grouped.offer_code = projected.offer_code
    left join channel_cac
        on grouped.acquisition_channel = channel_cac.acquisition_channel

)

select * from final
