-- One row per first-purchase cohort_month x acquisition_channel (each also `all`): 通常→定期 引上げ.
-- One-time buyer = a customer whose first purchase was not a subscription order. Converted within N
-- days (N in var subscription_conversion_horizons_days) = their first subscription started on or
-- after the first purchase and at most N days after it. Eligible for N (no right-censoring, as in
-- f2_conversion): first_purchase_date <= as_of_date - N; count_converted counts eligible buyers only.
-- median_days_to_subscription: over one-time buyers who started a subscription by as_of_date.
{%- set horizons = var('subscription_conversion_horizons_days') %}
{%- set dims = ['cohort_month', 'acquisition_channel'] %}
with customers as (

    select * from {{ ref('int_customer_purchases') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

subscriptions as (

    select * from {{ ref('fct_subscriptions') }}

),

one_time_buyers as (

    select
        customers.customer_id,
        customers.cohort_month,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel,
        customers.first_purchase_date
    from customers
    inner join orders
        on customers.first_purchase_order_id = orders.order_id
    where customers.first_purchase_date is not null
        and not coalesce(orders.is_subscription, false)

),

first_starts as (

    select
        one_time_buyers.customer_id,
        min(subscriptions.started_date) as first_subscription_date
    from one_time_buyers
    inner join subscriptions
        on one_time_buyers.customer_id = subscriptions.customer_id
        and subscriptions.started_date >= one_time_buyers.first_purchase_date
    group by one_time_buyers.customer_id

),

buyers as (

    select
        one_time_buyers.*,
        {{ days_between('one_time_buyers.first_purchase_date', 'first_starts.first_subscription_date') }} as days_to_subscription
    from one_time_buyers
    left join first_starts
        on one_time_buyers.customer_id = first_starts.customer_id

),

grouped as (

{%- set measures %}
        cast(count(*) as bigint) as count_one_time_buyers,
        {{ conversion_counts('first_purchase_date', 'days_to_subscription', horizons) }},
        cast({{ percentile_cont('days_to_subscription', 0.5) }} as double) as median_days_to_subscription
{%- endset %}
{{ roll_up_to_all(dims, measures, 'buyers') }}

),

final as (

    select
        cohort_month,
        acquisition_channel,
        count_one_time_buyers,
        {%- for n in horizons %}
        count_eligible_{{ n }}d,
        count_converted_{{ n }}d,
        {{ safe_divide('count_converted_' ~ n ~ 'd', 'count_eligible_' ~ n ~ 'd') }} as conversion_rate_{{ n }}d,
        {%- endfor %}
        median_days_to_subscription
    from grouped

)

select * from final
