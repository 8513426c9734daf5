-- One row per abandoned session x product added to its cart, for known customers: the follow-up
-- list of text 004 (a reminder mail or LINE message). is_purchased_since says whether the customer
-- bought the product after adding it (on or before as_of_date), so a follow-up can skip it.
with sessions as (

    select * from {{ ref('fct_sessions') }}
    where is_cart_abandoned and customer_id is not null

),

additions as (

    select session_id, product_id, min(occurred_at) as added_at
    from {{ ref('stg_shop__events') }}
    where event_type = 'add_to_cart' and product_id is not null
    group by session_id, product_id

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

later_purchases as (

    select customer_id, product_id, max(ordered_at) as last_bought_at
    from {{ ref('int_purchase_lines') }}
    where customer_id is not null
    group by customer_id, product_id

),

final as (

    select
        sessions.session_id,
        sessions.customer_id,
        additions.product_id,
        products.product_name,
        coalesce(products.category, 'unknown') as category,
        additions.added_at,
        sessions.session_date,
        sessions.channel,
        sessions.device,
        coalesce(later_purchases.last_bought_at > additions.added_at, false) as is_purchased_since
    from sessions
    inner join additions
        on sessions.session_id = additions.session_id
    left join products
        on additions.product_id = products.product_id
    left join later_purchases
        on sessions.customer_id = later_purchases.customer_id
        and additions.product_id = later_purchases.product_id

)

select * from final
