-- Grain: one row per known customer with a purchase x product their basket profile's evidence
-- offers them (at most owned_products + 2 per customer).
-- Rule (domain.md "Personalized offer", exclusion by cycle): the profile's candidates
-- (int_offer_profile_scores), never a product the customer bought within its usual repurchase
-- cycle (int_offer_owned_products.is_within_cycle). Customers of one profile differ only here.
with customers as (

    select customer_id, profile_id
    from {{ ref('int_offer_customer_profiles') }}
    where profile_id is not null  -- customers without a purchase have no profile and no evidence

),

candidates as (

    select profile_id, product_id, score, category
    from {{ ref('int_offer_profile_scores') }}
    where is_candidate

),

within_cycle as (

    select customer_id, product_id
    from {{ ref('int_offer_owned_products') }}
    where is_within_cycle

),

final as (

    select
        customers.customer_id,
        candidates.product_id,
        candidates.score,
        candidates.category
    from customers
    inner join candidates on customers.profile_id = candidates.profile_id
    left join within_cycle
        on customers.customer_id = within_cycle.customer_id
        and candidates.product_id = within_cycle.product_id
    where within_cycle.customer_id is null

)

select * from final
