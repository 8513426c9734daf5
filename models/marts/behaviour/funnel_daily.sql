-- One row per session_date x channel x device: sessions reaching each funnel step
-- (page_view -> product_view -> add_to_cart -> checkout_start -> purchase), each step's rate from
-- the step before, conversion and cart abandonment (1 - purchases / carts). Definitions:
-- domain.md "Funnel and cart abandonment".
with sessions as (

    select * from {{ ref('fct_sessions') }}

),

counted as (

    select
        session_date,
        channel,
        device,
        cast(count(*) as bigint) as count_sessions,
        cast(sum(case when has_product_view then 1 else 0 end) as bigint) as count_product_view,
        cast(sum(case when has_add_to_cart then 1 else 0 end) as bigint) as count_add_to_cart,
        cast(sum(case when has_checkout_start then 1 else 0 end) as bigint) as count_checkout_start,
        cast(sum(case when has_purchase then 1 else 0 end) as bigint) as count_purchase,
        cast(sum(case when is_cart_abandoned then 1 else 0 end) as bigint) as count_cart_abandoned
    from sessions
    group by session_date, channel, device

),

final as (

    select
        session_date,
        channel,
        device,
        count_sessions,
        count_product_view,
        count_add_to_cart,
        count_checkout_start,
        count_purchase,
        count_cart_abandoned,
        {{ safe_divide('count_product_view', 'count_sessions') }} as product_view_rate,
        {{ safe_divide('count_add_to_cart', 'count_product_view') }} as add_to_cart_rate,
        {{ safe_divide('count_checkout_start', 'count_add_to_cart') }} as checkout_start_rate,
        {{ safe_divide('count_purchase', 'count_checkout_start') }} as purchase_rate,
        {{ safe_divide('count_purchase', 'count_sessions') }} as conversion_rate,
        1 - {{ safe_divide('count_purchase', 'count_add_to_cart') }} as cart_abandonment_rate
    from counted

)

select * from final
