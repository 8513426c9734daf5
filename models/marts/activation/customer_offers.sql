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

evidence as (

    {{ offer_evidence('owned_weighted', 'next_products', 'affinity') }}

),

scored as (

    select
        customer_id,
        product_id,
        -- summed as exact decimals: a double sum depends on the order rows arrive in, and a
        -- rerun must give the same score to the last digit
        cast(sum(cast(points as decimal(18, 12))) as double) as score
    from evidence
    group by customer_id, product_id

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

fallback as (

    select preferred_category.customer_id, ranking.product_id,
           -- below any evidence: evidence scores are shares / confidences > 0
           0.0 as score,
           ranking.revenue as fallback_revenue
    from preferred_category
    inner join ranking on preferred_category.category = ranking.category

),

candidates as (

    select customer_id, product_id, score, cast(null as double) as fallback_revenue
    from scored

    union all

    -- a product reached by evidence and by the ranking keeps its evidence
    select fallback.customer_id, fallback.product_id, fallback.score, cast(fallback.fallback_revenue as double)
    from fallback
    left join scored
        on fallback.customer_id = scored.customer_id and fallback.product_id = scored.product_id
    where scored.customer_id is null

),

owned_one_off as (

    select distinct customer_id, category
    from lines
    where category in (select category from one_off)

),

allowed as (

    select candidates.*, products.category
    from candidates
    inner join products on candidates.product_id = products.product_id
    left join owned
        on candidates.customer_id = owned.customer_id and candidates.product_id = owned.product_id
    left join cycles on candidates.product_id = cycles.product_id
    left join owned_one_off
        on candidates.customer_id = owned_one_off.customer_id and products.category = owned_one_off.category
    where
        -- never a one-off category the customer already owns
        owned_one_off.customer_id is null
        -- never inside the product's usual repurchase cycle for this customer
        and (owned.last_bought_date is null
             or {{ days_between('owned.last_bought_date', as_of_date()) }}
                >= coalesce(cycles.cycle_days, {{ var('offer_default_cycle_days') }}))

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

offered_by_evidence as (

    select customer_id, product_id from offered where fallback_revenue is null

),

-- the strongest single piece of evidence names the reason; looked up for the two offers only (the
-- evidence of every candidate is customers x owned x pairs rows: ranking it all cost most of the model)
best_evidence as (

    select customer_id, product_id, because_of, kind,
           row_number() over (partition by customer_id, product_id
                              order by points desc, because_of, kind) as evidence_rank
    from ({{ offer_evidence('owned_weighted', 'next_products', 'affinity', offered='offered_by_evidence') }}) as evidence

),

explained as (

    select
        offered.*,
        coalesce(best_evidence.kind, 'ranking') as kind,
        coalesce(best_evidence.because_of, preferred_category.category) as because_of
    from offered
    left join best_evidence
        on offered.customer_id = best_evidence.customer_id and offered.product_id = best_evidence.product_id
        and best_evidence.evidence_rank = 1
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
