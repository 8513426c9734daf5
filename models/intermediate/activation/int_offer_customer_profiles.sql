-- Grain: one row per known customer: every customer with a purchase on or before as_of_date and
-- every other customer of stg_shop__customers (no purchase yet: profile_id and representative_id
-- null, owned_products 0; they are offered the ranking fallback only).
-- Rule: the evidence for a customer's offers depends only on which products they own and which
-- came with their last purchase (the weights of int_offer_owned_products), so customers with the
-- same basket profile share it and it is scored once per profile (decision 84). The profile's
-- key spells the profile out (its owned products and weights, macro owned_product_key), so two
-- profiles never share a key; profile_id numbers the keys, representative_id is the profile's
-- first customer, whose owned products stand for the profile's. preferred_category, where the
-- ranking fallback looks: the category the customer bought most lines of; for a customer without a
-- purchase, the category of the products they added to abandoned carts most often
-- (int_abandoned_cart_products, one per session x product); ties: the first by name; null when they
-- never carted either. preferred_category_source says which: 'purchases', 'carts' or null.
with owned as (

    select customer_id, product_id, weight from {{ ref('int_offer_owned_products') }}

),

lines as (

    select customer_id, category
    from {{ ref('int_purchase_lines') }}
    where customer_id is not null

),

known_customers as (

    select customer_id from {{ ref('stg_shop__customers') }}

),

cart_products as (

    select customer_id, product_id from {{ ref('int_abandoned_cart_products') }}

),

products as (

    select product_id, category from {{ ref('stg_shop__products') }}

),

basket_profiles as (

    select
        customer_id,
        {{ sorted_string_agg(owned_product_key('weight', 'product_id'), ',') }} as profile_key,
        count(*) as owned_products
    from owned
    group by customer_id

),

-- one row per profile, numbered (a short key for the joins and groups that score it)
profiles as (

    select
        row_number() over (order by profile_key) as profile_id,
        profile_key,
        representative_id,
        owned_products
    from (
        select profile_key, min(customer_id) as representative_id, max(owned_products) as owned_products
        from basket_profiles
        group by profile_key
    ) as distinct_profiles

),

-- known customers without a purchase
no_purchase as (

    select known_customers.customer_id
    from known_customers
    left join basket_profiles on known_customers.customer_id = basket_profiles.customer_id
    where basket_profiles.customer_id is null

),

-- what each customer's category is counted over: the lines they bought, or, for a customer without
-- a purchase (only they need it), the products they added to abandoned carts
category_rows as (

    select customer_id, category, 'purchases' as source
    from lines
    union all
    select cart_products.customer_id, products.category, 'carts' as source
    from cart_products
    inner join no_purchase on cart_products.customer_id = no_purchase.customer_id
    inner join products on cart_products.product_id = products.product_id
    where products.category is not null

),

preferred_category as (

    select customer_id, category, source
    from (
        select customer_id, category, source,
               row_number() over (partition by customer_id order by count(*) desc, category) as category_rank
        from category_rows
        group by customer_id, category, source
    ) as counted
    where category_rank = 1

),

buyers as (

    select
        basket_profiles.customer_id,
        profiles.profile_id,
        profiles.representative_id,
        profiles.owned_products,
        preferred_category.category as preferred_category,
        case when preferred_category.category is not null then preferred_category.source end
            as preferred_category_source
    from basket_profiles
    inner join profiles on basket_profiles.profile_key = profiles.profile_key
    left join preferred_category on basket_profiles.customer_id = preferred_category.customer_id

),

non_buyers as (

    select
        no_purchase.customer_id,
        cast(null as bigint) as profile_id,
        cast(null as {{ dbt.type_string() }}) as representative_id,
        0 as owned_products,
        preferred_category.category as preferred_category,
        preferred_category.source as preferred_category_source
    from no_purchase
    left join preferred_category on no_purchase.customer_id = preferred_category.customer_id

),

final as (

    select * from buyers
    union all
    select * from non_buyers

)

select * from final
