-- One row per known customer x offer rank (1, 2) on as_of_date: the two products to offer (text
-- 000: prepare two), domain.md "Personalized offer". The parts, each its own model:
--   int_offer_owned_products       what each customer owns, the weight of their last purchase, and
--                                  the exclusions per owned product (one-off category, repurchase cycle)
--   int_offer_customer_profiles    customers with the same basket share one profile, scored once;
--                                  customers without a purchase have none, and a preferred
--                                  category from their abandoned carts (or none)
--   int_offer_evidence             買い回り (next purchase) and 併売 (bought together) evidence
--   int_offer_profile_scores       the evidence added up per profile, minus owned one-off categories
--   int_offer_evidence_candidates  a customer's candidates by evidence, minus products inside their cycle
--   int_offer_ranking_fallback     the last four weeks' best sellers of their category, for customers
--                                  short of evidence (of the whole shop for a customer without a
--                                  purchase or cart)
-- Here: the two best (evidence above the ranking, then the fallback's revenue, then product_id)
-- and the reason a marketer reads: the strongest single piece of evidence, or the ranking (in the
-- category they buy most, the category of their cart, or the shop's).
with evidence_offers as (

    select customer_id, product_id, score, cast(null as double) as fallback_revenue, category
    from {{ ref('int_offer_evidence_candidates') }}

),

fallback_offers as (

    select customer_id, product_id, 0.0 as score, fallback_revenue, category
    from {{ ref('int_offer_ranking_fallback') }}

),

customers as (

    select customer_id, preferred_category, preferred_category_source
    from {{ ref('int_offer_customer_profiles') }}

),

owned as (

    select customer_id, product_id, weight from {{ ref('int_offer_owned_products') }}

),

evidence as (

    select piece_key, because_of, kind, points from {{ ref('int_offer_evidence') }}

),

products as (

    select product_id, product_name from {{ ref('stg_shop__products') }}

),

allowed as (

    select * from evidence_offers
    union all
    select * from fallback_offers

),

ranked as (

    select
        allowed.*,
        row_number() over (
            partition by allowed.customer_id
            order by allowed.score desc, allowed.fallback_revenue desc, allowed.product_id
        ) as offer_rank
    from allowed

),

offered as (

    select * from ranked where offer_rank <= 2

),

-- the strongest single piece of evidence names the reason, looked up for the two offers only: the
-- customer's owned products (and their weights) against the pieces for the offered product, by one
-- key, so the lookup never spreads every owned product over every piece
best_evidence as (

    select customer_id, product_id, because_of, kind
    from (
        select
            offered_owned.customer_id,
            offered_owned.product_id,
            evidence.because_of,
            evidence.kind,
            row_number() over (
                partition by offered_owned.customer_id, offered_owned.product_id
                order by evidence.points desc, evidence.because_of, evidence.kind
            ) as evidence_rank
        from (
            select
                offered.customer_id,
                offered.product_id,
                {{ owned_product_key('owned.weight', 'owned.product_id') }} || offered.product_id as piece_key
            from offered
            inner join owned on offered.customer_id = owned.customer_id
            where offered.fallback_revenue is null
        ) as offered_owned
        inner join evidence on offered_owned.piece_key = evidence.piece_key
    ) as ranked_evidence
    where evidence_rank = 1

),

explained as (

    select
        offered.*,
        coalesce(best_evidence.kind, 'ranking') as kind,
        coalesce(best_evidence.because_of, customers.preferred_category) as because_of,
        customers.preferred_category_source
    from offered
    left join best_evidence
        on offered.customer_id = best_evidence.customer_id and offered.product_id = best_evidence.product_id
    left join customers
        on offered.customer_id = customers.customer_id

),

final as (

    select
        explained.customer_id,
        {{ as_of_date() }} as as_of_date,
        cast(explained.offer_rank as integer) as offer_rank,
        explained.product_id,
        offered_product.product_name,
        explained.category,
        cast(explained.score as double) as score,
        case
            when explained.kind = 'next' then 'customers who bought ' || because.product_name || ' bought this next'
            when explained.kind = 'together' then 'often bought together with ' || because.product_name
            when explained.because_of is null then 'a best seller of the last four weeks'
            when explained.preferred_category_source = 'carts'
                then 'a best seller of the last four weeks in ' || explained.because_of
                    || ', the category of your cart'
            else 'a best seller of the last four weeks in ' || explained.because_of || ', the category you buy most'
        end as reason
    from explained
    left join products as because on explained.because_of = because.product_id
    left join products as offered_product on explained.product_id = offered_product.product_id

)

select * from final
