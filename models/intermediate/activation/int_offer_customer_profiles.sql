-- Grain: one row per known customer with a purchase on or before as_of_date.
-- Rule: the evidence for a customer's offers depends only on which products they own and which
-- came with their last purchase (the weights of int_offer_owned_products), so customers with the
-- same basket profile share it and it is scored once per profile (decision 84). The profile's
-- key spells the profile out (its owned products and weights, macro owned_product_key), so two
-- profiles never share a key; profile_id numbers the keys, representative_id is the profile's
-- first customer, whose owned products stand for the profile's. preferred_category: the category
-- the customer bought most lines of (ties: the first by name), where the ranking fallback looks.
with owned as (

    select customer_id, product_id, weight from {{ ref('int_offer_owned_products') }}

),

lines as (

    select customer_id, category
    from {{ ref('int_purchase_lines') }}
    where customer_id is not null

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

preferred_category as (

    select customer_id, category
    from (
        select customer_id, category,
               row_number() over (partition by customer_id order by count(*) desc, category) as category_rank
        from lines
        group by customer_id, category
    ) as counted
    where category_rank = 1

),

final as (

    select
        basket_profiles.customer_id,
        profiles.profile_id,
        profiles.representative_id,
        profiles.owned_products,
        preferred_category.category as preferred_category
    from basket_profiles
    inner join profiles on basket_profiles.profile_key = profiles.profile_key
    left join preferred_category on basket_profiles.customer_id = preferred_category.customer_id

)

select * from final
