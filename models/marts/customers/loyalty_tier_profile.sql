-- One row per loyalty tier as of as_of_date (all four, even when empty): text 002's persona view.
-- Order measures are over the tier's customers' purchases on or before as_of_date.
{%- set top_n = var('loyalty_profile_top_categories') %}
with rfm as (

    select customer_id, loyalty_tier from {{ ref('customer_rfm') }}

),

tiers as (

    select * from {{ ref('loyalty_tiers') }}

),

purchases as (

    select
        orders.order_id,
        orders.order_total,
        orders.count_lines,
        orders.total_quantity,
        orders.days_since_previous_purchase,
        rfm.loyalty_tier
    from {{ ref('int_orders_enriched') }} as orders
    inner join rfm
        on orders.customer_id = rfm.customer_id
    where orders.is_purchase

),

customers as (

    select
        rfm.loyalty_tier,
        purchases.days_to_second_purchase
    from rfm
    inner join {{ ref('int_customer_purchases') }} as purchases
        on rfm.customer_id = purchases.customer_id

),

tier_customers as (

    select
        loyalty_tier,
        cast(count(*) as bigint) as count_customers,
        cast({{ percentile_cont('days_to_second_purchase', 0.5) }} as double) as median_days_to_second_purchase
    from customers
    group by loyalty_tier

),

tier_orders as (

    select
        loyalty_tier,
        cast(avg(count_lines) as double) as avg_items_per_order,
        cast(avg(total_quantity) as double) as avg_quantity_per_order,
        cast(avg(order_total) as double) as aov,
        cast({{ percentile_cont('days_since_previous_purchase', 0.5) }} as double) as median_days_between_purchases
    from purchases
    group by loyalty_tier

),

-- category pairs bought together in one purchase, per tier; the top N by orders
order_categories as (

    select distinct rfm.loyalty_tier, lines.order_id, lines.category
    from {{ ref('int_purchase_lines') }} as lines
    inner join rfm
        on lines.customer_id = rfm.customer_id

),

category_pairs as (

    select
        first_category.loyalty_tier,
        first_category.category || ' + ' || second_category.category as category_pair,
        count(*) as count_orders
    from order_categories as first_category
    inner join order_categories as second_category
        on first_category.order_id = second_category.order_id
        and first_category.category < second_category.category
    group by 1, 2

),

ranked_pairs as (

    select
        *,
        row_number() over (partition by loyalty_tier order by count_orders desc, category_pair) as pair_rank
    from category_pairs

),

top_pairs as (

    select
        loyalty_tier,
        concat_ws(', '
            {%- for i in range(1, top_n + 1) %}, max(case when pair_rank = {{ i }} then category_pair end){% endfor %}
        ) as top_copurchased_categories
    from ranked_pairs
    where pair_rank <= {{ top_n }}
    group by loyalty_tier

),

final as (

    select
        tiers.loyalty_tier,
        tiers.loyalty_tier_ja,
        tiers.tier_order,
        coalesce(tier_customers.count_customers, 0) as count_customers,
        coalesce(cast(tier_customers.count_customers as double) / nullif(sum(tier_customers.count_customers) over (), 0), 0) as share_of_customers,
        tier_orders.avg_items_per_order,
        tier_orders.avg_quantity_per_order,
        tier_orders.aov,
        tier_orders.median_days_between_purchases,
        tier_customers.median_days_to_second_purchase,
        top_pairs.top_copurchased_categories
    from tiers
    left join tier_customers
        on tiers.loyalty_tier = tier_customers.loyalty_tier
    left join tier_orders
        on tiers.loyalty_tier = tier_orders.loyalty_tier
    left join top_pairs
        on tiers.loyalty_tier = top_pairs.loyalty_tier

)

select * from final
