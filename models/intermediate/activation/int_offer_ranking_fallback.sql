-- Grain: one row per known customer short of evidence x best seller of the last four weeks in
-- their preferred category that may be offered to them.
-- Rule (domain.md "Personalized offer", ranking fallback; text 004's ranking content): a customer
-- with fewer than two offers by evidence (int_offer_evidence_candidates with score > 0) gets the
-- products sold in the weeks starting within the last 28 days (int_product_sales_periods) in the
-- category they buy most, ranked below any evidence by revenue. Never a product evidence reached
-- for their profile (it keeps its evidence, even when their cycle keeps it out), a product of a
-- one-off category they own, or a product inside its repurchase cycle for them.
with customers as (

    select customer_id, profile_id, preferred_category from {{ ref('int_offer_customer_profiles') }}

),

evidence_offers as (

    select customer_id, count(*) as offers_by_evidence
    from {{ ref('int_offer_evidence_candidates') }}
    where score > 0
    group by customer_id

),

reached as (

    select profile_id, product_id from {{ ref('int_offer_profile_scores') }}

),

owned as (

    select customer_id, product_id, category, is_one_off_category, is_within_cycle
    from {{ ref('int_offer_owned_products') }}

),

products as (

    select product_id, category from {{ ref('stg_shop__products') }}

),

ranking as (

    select product_id, sum(revenue) as revenue
    from {{ ref('int_product_sales_periods') }}
    where period_grain = 'week' and period_start_date > {{ add_days(as_of_date(), -28) }}
    group by product_id

),

short_of_evidence as (

    select customers.customer_id, customers.profile_id, customers.preferred_category
    from customers
    left join evidence_offers on customers.customer_id = evidence_offers.customer_id
    where coalesce(evidence_offers.offers_by_evidence, 0) < 2

),

one_off_owned as (

    select distinct customer_id, category from owned where is_one_off_category

),

within_cycle as (

    select customer_id, product_id from owned where is_within_cycle

),

final as (

    select
        short_of_evidence.customer_id,
        ranking.product_id,
        cast(ranking.revenue as double) as fallback_revenue,
        products.category
    from short_of_evidence
    inner join products on short_of_evidence.preferred_category = products.category
    inner join ranking on products.product_id = ranking.product_id
    left join reached
        on short_of_evidence.profile_id = reached.profile_id
        and ranking.product_id = reached.product_id
    left join one_off_owned
        on short_of_evidence.customer_id = one_off_owned.customer_id
        and products.category = one_off_owned.category
    left join within_cycle
        on short_of_evidence.customer_id = within_cycle.customer_id
        and ranking.product_id = within_cycle.product_id
    where reached.profile_id is null
        and one_off_owned.customer_id is null
        and within_cycle.customer_id is null

)

select * from final
