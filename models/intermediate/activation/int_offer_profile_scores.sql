-- Grain: one row per basket profile (int_offer_customer_profiles; customers without a purchase have
-- none) x product its owned products lead to by evidence (int_offer_evidence).
-- Rule (domain.md "Personalized offer", co-purchase scoring): score = the sum of the evidence
-- points of the profile's owned products at the weights they are owned with. is_candidate: the
-- product may be offered to the profile's customers: it is in the products table, never of a
-- one-off category the profile owns (text 004's coat), and among the profile's first
-- owned_products + 2 by score (then product_id). Only the products a customer owns can still drop
-- out for them (inside their cycle), so a customer's two offers by evidence are among these.
-- Products reached but not candidates stay: the ranking fallback never offers a product that
-- evidence reached.
with profiles as (

    select distinct profile_id, representative_id, owned_products
    from {{ ref('int_offer_customer_profiles') }}
    where profile_id is not null

),

owned as (

    select customer_id, product_id, weight, category, is_one_off_category
    from {{ ref('int_offer_owned_products') }}

),

evidence as (

    select weight, because_of, product_id, points from {{ ref('int_offer_evidence') }}

),

products as (

    select product_id, category from {{ ref('stg_shop__products') }}

),

-- a profile's owned products are its representative's
profile_owned as (

    select profiles.profile_id, owned.product_id, owned.weight
    from profiles
    inner join owned on profiles.representative_id = owned.customer_id

),

-- the one-off categories a profile owns (a product's category is the products table's)
profile_one_off as (

    select distinct profiles.profile_id, owned.category
    from profiles
    inner join owned on profiles.representative_id = owned.customer_id
    where owned.is_one_off_category

),

-- next and together added up per owned product x weight, as exact decimals: a double sum depends
-- on the order rows arrive in, and a rerun must give the same score to the last digit
pair_points as (

    select
        weight,
        because_of as owned_product_id,
        product_id,
        sum(cast(points as decimal(18, 12))) as points
    from evidence
    group by weight, because_of, product_id

),

profile_scored as (

    select
        profile_owned.profile_id,
        pair_points.product_id,
        cast(sum(pair_points.points) as double) as score
    from profile_owned
    inner join pair_points
        on profile_owned.product_id = pair_points.owned_product_id
        and profile_owned.weight = pair_points.weight
    group by profile_owned.profile_id, pair_points.product_id

),

allowed as (

    select
        profile_scored.profile_id,
        profile_scored.product_id,
        profile_scored.score,
        products.category,
        profiles.owned_products,
        products.product_id is not null and profile_one_off.profile_id is null as is_allowed
    from profile_scored
    inner join profiles on profile_scored.profile_id = profiles.profile_id
    left join products on profile_scored.product_id = products.product_id
    left join profile_one_off
        on profile_scored.profile_id = profile_one_off.profile_id
        and products.category = profile_one_off.category

),

final as (

    select
        profile_id,
        product_id,
        score,
        category,
        is_allowed and row_number() over (
            partition by profile_id, is_allowed order by score desc, product_id
        ) <= owned_products + 2 as is_candidate
    from allowed

)

select * from final
