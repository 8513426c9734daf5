-- Grain: one row per known customer short of evidence x best seller of the last four weeks in
-- their preferred category that may be offered to them; for a customer without a purchase, the
-- two best sellers of their preferred category, or of the whole shop where they have none.
-- Rule (domain.md "Personalized offer", ranking fallback; text 004's ranking content): a customer
-- with fewer than two offers by evidence (int_offer_evidence_candidates with score > 0) gets the
-- products sold in the weeks starting within the last 28 days (int_product_sales_periods) in the
-- category they buy most, ranked below any evidence by revenue. Never a product evidence reached
-- for their profile (it keeps its evidence, even when their cycle keeps it out), a product of a
-- one-off category they own, or a product inside its repurchase cycle for them. A customer without
-- a purchase (no profile) owns nothing and has no evidence: no exclusion applies, and
-- customer_offers takes their first two, so they get only the two best of their preferred category
-- (that of their abandoned carts) or, where they never carted, the shop's two best: two rows per
-- customer, never every product of a category.
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
    where customers.profile_id is not null and coalesce(evidence_offers.offers_by_evidence, 0) < 2

),

no_purchase as (

    select customer_id, preferred_category from customers where profile_id is null

),

-- the ranking's two best per category and overall (then product_id, as customer_offers orders them)
top_ranked as (

    select product_id, revenue, category, category_rank, overall_rank
    from (
        select
            ranking.product_id,
            ranking.revenue,
            products.category,
            row_number() over (
                partition by products.category order by ranking.revenue desc, ranking.product_id
            ) as category_rank,
            row_number() over (order by ranking.revenue desc, ranking.product_id) as overall_rank
        from ranking
        inner join products on ranking.product_id = products.product_id
    ) as ranked
    where category_rank <= 2 or overall_rank <= 2

),

no_purchase_by_category as (

    select no_purchase.customer_id, top_ranked.product_id, top_ranked.revenue, top_ranked.category
    from no_purchase
    inner join top_ranked on no_purchase.preferred_category = top_ranked.category
    where top_ranked.category_rank <= 2

),

no_purchase_overall as (

    select no_purchase.customer_id, top_ranked.product_id, top_ranked.revenue, top_ranked.category
    from no_purchase
    cross join top_ranked
    where no_purchase.preferred_category is null and top_ranked.overall_rank <= 2

),

one_off_owned as (

    select distinct customer_id, category from owned where is_one_off_category

),

within_cycle as (

    select customer_id, product_id from owned where is_within_cycle

),

buyer_offers as (

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

),

final as (

    select * from buyer_offers
    union all
    select customer_id, product_id, cast(revenue as double) as fallback_revenue, category
    from no_purchase_by_category
    union all
    select customer_id, product_id, cast(revenue as double) as fallback_revenue, category
    from no_purchase_overall

)

select * from final
