-- One row per abandoned session of a known customer x product added to its cart (domain.md
-- "Funnel and cart abandonment": a session with add_to_cart and no purchase), with the first time
-- the product was added. The follow-up list (abandoned_carts) and the audiences' cart feature
-- (int_activation_features) both read it, so a cart is abandoned by one rule.
with sessions as (

    select session_id, customer_id, session_date, channel, device
    from {{ ref('int_sessions') }}
    where is_cart_abandoned and customer_id is not null

),

additions as (

    select session_id, product_id, min(occurred_at) as added_at
    from {{ ref('stg_shop__events') }}
    where event_type = 'add_to_cart' and product_id is not null
    group by session_id, product_id

),

final as (

    select
        sessions.session_id,
        sessions.customer_id,
        additions.product_id,
        additions.added_at,
        sessions.session_date,
        sessions.channel,
        sessions.device
    from sessions
    inner join additions
        on sessions.session_id = additions.session_id

)

select * from final
