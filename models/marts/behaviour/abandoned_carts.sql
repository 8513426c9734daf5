-- One row per abandoned session x product added to its cart, for known customers: the follow-up
-- list of text 004 (a reminder mail or LINE message), from int_abandoned_cart_products.
-- is_purchased_since says whether the customer bought the product after adding it (on or before
-- as_of_date), so a follow-up can skip it.
with carts as (

    select * from {{ ref('int_abandoned_cart_products') }}

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
        carts.session_id,
        carts.customer_id,
        carts.product_id,
        products.product_name,
        coalesce(products.category, 'unknown') as category,
        carts.added_at,
        carts.session_date,
        carts.channel,
        carts.device,
        coalesce(later_purchases.last_bought_at > carts.added_at, false) as is_purchased_since
    from carts
    left join products
        on carts.product_id = products.product_id
    left join later_purchases
        on carts.customer_id = later_purchases.customer_id
        and carts.product_id = later_purchases.product_id

)

select * from final
