-- One row per known customer with a purchase x offer rank (1, 2) on as_of_date: the two products
-- to offer (text 000: prepare two), scored from what customers who bought what this customer owns
-- went on to buy next (next_product, 買い回り: share) and bought with it (product_affinity, 併売:
-- customer_confidence), evidence from the products of their last purchase counting double. Never
-- a product of a one-off category they already own (seed product_categories, text 004's coat),
-- never a product they bought within its usual repurchase cycle (the median days between two
-- purchases of it by the same customer; var offer_default_cycle_days when nobody repurchased it).
-- Without evidence: the best sellers of the last four weeks in their most-bought category
-- (text 004's ranking content). Each offer has a reason a marketer can read.
with lines as (

    select customer_id, order_date, product_id, category
    from {{ ref('int_purchase_lines') }}
    where customer_id is not null

),

products as (

    select product_id, product_name, category from {{ ref('stg_shop__products') }}

),

one_off as (

    select category from {{ ref('product_categories') }} where is_one_off

),

next_products as (

    select product_id, next_product_id, share from {{ ref('next_product') }}

),

affinity as (

    select product_id, paired_product_id, customer_confidence from {{ ref('product_affinity') }}

),

ranking as (

    select product_id, category, sum(revenue) as revenue
    from {{ ref('product_ranking') }}
    where period_grain = 'week' and period_start_date > {{ add_days(as_of_date(), -28) }}
    group by product_id, category

),

owned as (

    select customer_id, product_id, max(order_date) as last_bought_date
    from lines
    group by customer_id, product_id

),

last_purchase as (

    select customer_id, max(order_date) as last_purchase_date from lines group by customer_id

),

owned_weighted as (

    select
        owned.customer_id,
        owned.product_id,
        case when owned.last_bought_date = last_purchase.last_purchase_date then 2.0 else 1.0 end as weight
    from owned
    inner join last_purchase on owned.customer_id = last_purchase.customer_id

),

-- the usual repurchase cycle of each product: median gap between a customer's purchases of it
repurchase_gaps as (

    select
        product_id,
        {{ days_between('previous_date', 'order_date') }} as gap_days
    from (
        select
            customer_id,
            product_id,
            order_date,
            lag(order_date) over (partition by customer_id, product_id order by order_date) as previous_date
        from (select distinct customer_id, product_id, order_date from lines) as distinct_days
    ) as sequenced
    where previous_date is not null

),

cycles as (

    select product_id, {{ percentile_cont('gap_days', 0.5) }} as cycle_days
    from repurchase_gaps
    group by product_id

),

-- (customer, product) pairs the customer owns and bought within the product's usual cycle
within_cycle as (

    select owned.customer_id, owned.product_id
    from owned
    left join cycles on owned.product_id = cycles.product_id
    where {{ days_between('owned.last_bought_date', as_of_date()) }}
          < coalesce(cycles.cycle_days, {{ var('offer_default_cycle_days') }})

),

-- The evidence depends only on which products a customer owns and which came with their last
-- purchase (the weight): customers with the same basket profile share it, so it is scored once
-- per profile (decision log 84). The key spells out the profile (its owned products and weights,
-- macro owned_product_key), so two profiles never share a key.
basket_profiles as (

    select
        customer_id,
        {{ sorted_string_agg(owned_product_key('weight', 'product_id'), ',') }} as profile_key,
        count(*) as owned_products
    from owned_weighted
    group by customer_id

),

-- one row per profile, numbered (a short key for the joins and groups below)
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

customer_profiles as (

    select basket_profiles.customer_id, profiles.profile_id
    from basket_profiles
    inner join profiles on basket_profiles.profile_key = profiles.profile_key

),

profile_owned as (

    select profiles.profile_id, owned_weighted.product_id, owned_weighted.weight
    from profiles
    inner join owned_weighted on profiles.representative_id = owned_weighted.customer_id

),

-- the evidence one owned product, at each weight it is owned with, gives each product it leads
-- to (a few thousand rows at most: products x products x 2)
weighted_products as (

    select distinct product_id, weight from profile_owned

),

evidence_pieces as (

    select evidence.*, {{ owned_product_key('weight', 'because_of') }} || product_id as piece_key
    from ({{ offer_evidence('weighted_products', 'next_products', 'affinity', key='weight') }}) as evidence

),

-- next and together added up per owned product x weight, as exact decimals: a double sum depends
-- on the order rows arrive in, and a rerun must give the same score to the last digit
pair_points as (

    select
        weight,
        because_of as owned_product_id,
        product_id,
        sum(cast(points as decimal(18, 12))) as points
    from evidence_pieces
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

-- the one-off categories a profile owns (a product's category is the products table's)
profile_one_off as (

    select distinct profiles.profile_id, lines.category
    from profiles
    inner join lines on profiles.representative_id = lines.customer_id
    where lines.category in (select category from one_off)

),

-- A profile's evidence candidates in offer order, never a one-off category it owns. Only the
-- products a customer owns can still drop out (inside their cycle), so a customer's two offers by
-- evidence are among the profile's first owned_products + 2.
profile_ranked as (

    select profile_id, product_id, score, category
    from (
        select
            profile_scored.profile_id,
            profile_scored.product_id,
            profile_scored.score,
            products.category,
            profiles.owned_products,
            row_number() over (
                partition by profile_scored.profile_id
                order by profile_scored.score desc, profile_scored.product_id
            ) as profile_rank
        from profile_scored
        inner join profiles on profile_scored.profile_id = profiles.profile_id
        inner join products on profile_scored.product_id = products.product_id
        left join profile_one_off
            on profile_scored.profile_id = profile_one_off.profile_id
            and products.category = profile_one_off.category
        where profile_one_off.profile_id is null
    ) as ranked_in_profile
    where profile_rank <= owned_products + 2

),

evidence_allowed as (

    select
        customer_profiles.customer_id,
        profile_ranked.product_id,
        profile_ranked.score,
        cast(null as double) as fallback_revenue,
        profile_ranked.category
    from customer_profiles
    inner join profile_ranked on customer_profiles.profile_id = profile_ranked.profile_id
    left join within_cycle
        on customer_profiles.customer_id = within_cycle.customer_id
        and profile_ranked.product_id = within_cycle.product_id
    where within_cycle.customer_id is null

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

-- Without two offers by evidence (scores are shares / confidences > 0), the best sellers of the
-- customer's category fill in, below any evidence (score 0); a product evidence reached keeps its
-- evidence, even when the customer's cycle keeps it out.
short_of_evidence as (

    select customer_profiles.customer_id, customer_profiles.profile_id
    from customer_profiles
    left join (
        select customer_id, count(*) as offers_by_evidence
        from evidence_allowed
        where score > 0
        group by customer_id
    ) as counted on customer_profiles.customer_id = counted.customer_id
    where coalesce(counted.offers_by_evidence, 0) < 2

),

fallback_allowed as (

    select
        short_of_evidence.customer_id,
        ranking.product_id,
        0.0 as score,
        cast(ranking.revenue as double) as fallback_revenue,
        products.category
    from short_of_evidence
    inner join preferred_category on short_of_evidence.customer_id = preferred_category.customer_id
    inner join ranking on preferred_category.category = ranking.category
    inner join products on ranking.product_id = products.product_id
    left join profile_scored
        on short_of_evidence.profile_id = profile_scored.profile_id
        and ranking.product_id = profile_scored.product_id
    left join profile_one_off
        on short_of_evidence.profile_id = profile_one_off.profile_id
        and products.category = profile_one_off.category
    left join within_cycle
        on short_of_evidence.customer_id = within_cycle.customer_id
        and ranking.product_id = within_cycle.product_id
    where profile_scored.profile_id is null
        and profile_one_off.profile_id is null
        and within_cycle.customer_id is null

),

allowed as (

    select * from evidence_allowed
    union all
    select * from fallback_allowed

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
            evidence_pieces.because_of,
            evidence_pieces.kind,
            row_number() over (
                partition by offered_owned.customer_id, offered_owned.product_id
                order by evidence_pieces.points desc, evidence_pieces.because_of, evidence_pieces.kind
            ) as evidence_rank
        from (
            select
                offered.customer_id,
                offered.product_id,
                {{ owned_product_key('owned_weighted.weight', 'owned_weighted.product_id') }} || offered.product_id
                    as piece_key
            from offered
            inner join owned_weighted on offered.customer_id = owned_weighted.customer_id
            where offered.fallback_revenue is null
        ) as offered_owned
        inner join evidence_pieces on offered_owned.piece_key = evidence_pieces.piece_key
    ) as ranked_evidence
    where evidence_rank = 1

),

explained as (

    select
        offered.*,
        coalesce(best_evidence.kind, 'ranking') as kind,
        coalesce(best_evidence.because_of, preferred_category.category) as because_of
    from offered
    left join best_evidence
        on offered.customer_id = best_evidence.customer_id and offered.product_id = best_evidence.product_id
    left join preferred_category
        on offered.customer_id = preferred_category.customer_id

),

final as (

    select
        explained.customer_id,
        {{ as_of_date() }} as as_of_date,
        cast(explained.offer_rank as integer) as offer_rank,
        explained.product_id,
        explained.category,
        cast(explained.score as double) as score,
        case explained.kind
            when 'next' then 'customers who bought ' || because.product_name || ' bought this next'
            when 'together' then 'often bought together with ' || because.product_name
            else 'a best seller of the last four weeks in ' || explained.because_of || ', the category you buy most'
        end as reason
    from explained
    left join products as because on explained.because_of = because.product_id

)

select * from final
