-- One row per ordered product pair (product_id, then paired_product_id) bought together: in one
-- purchase (order level) or by one customer across purchases (customer level). Purchases only.
--   support = baskets holding both / all baskets; confidence = baskets holding both / baskets
--   holding A; lift = confidence / (baskets holding B / all baskets). A basket is an order or a
--   customer. Definitions: domain.md "Product" (併売). The mart product_affinity and the
--   personalized offers (int_offer_evidence) read it.
with purchase_lines as (

    select distinct order_id, customer_id, product_id
    from {{ ref('int_purchase_lines') }}

),

customer_products as (

    select distinct customer_id, product_id
    from purchase_lines
    where customer_id is not null

),

totals as (

    select
        (select count(distinct order_id) from purchase_lines) as count_orders,
        (select count(distinct customer_id) from customer_products) as count_customers

),

product_baskets as (

    select
        product_id,
        count(distinct order_id) as orders_with_product
    from purchase_lines
    group by product_id

),

product_customers as (

    select product_id, count(*) as customers_with_product
    from customer_products
    group by product_id

),

order_pairs as (

    select
        first_line.product_id,
        second_line.product_id as paired_product_id,
        count(distinct first_line.order_id) as count_orders_together
    from purchase_lines as first_line
    inner join purchase_lines as second_line
        on first_line.order_id = second_line.order_id
        and first_line.product_id != second_line.product_id
    group by 1, 2

),

customer_pairs as (

    select
        first_product.product_id,
        second_product.product_id as paired_product_id,
        count(*) as count_customers_together
    from customer_products as first_product
    inner join customer_products as second_product
        on first_product.customer_id = second_product.customer_id
        and first_product.product_id != second_product.product_id
    group by 1, 2

),

pairs as (

    select
        coalesce(order_pairs.product_id, customer_pairs.product_id) as product_id,
        coalesce(order_pairs.paired_product_id, customer_pairs.paired_product_id) as paired_product_id,
        cast(coalesce(order_pairs.count_orders_together, 0) as bigint) as count_orders_together,
        cast(coalesce(customer_pairs.count_customers_together, 0) as bigint) as count_customers_together
    from order_pairs
    full outer join customer_pairs
        on order_pairs.product_id = customer_pairs.product_id
        and order_pairs.paired_product_id = customer_pairs.paired_product_id

),

final as (

    select
        pairs.product_id,
        pairs.paired_product_id,
        pairs.count_orders_together,
        pairs.count_customers_together,
        {{ safe_divide('pairs.count_orders_together', 'totals.count_orders') }} as support,
        {{ safe_divide('pairs.count_orders_together', 'product_a.orders_with_product') }} as confidence,
        {{ safe_divide('pairs.count_orders_together', 'product_a.orders_with_product') }}
            / {{ safe_divide('product_b.orders_with_product', 'totals.count_orders') }} as lift,
        {{ safe_divide('pairs.count_customers_together', 'totals.count_customers') }} as customer_support,
        {{ safe_divide('pairs.count_customers_together', 'customer_a.customers_with_product') }} as customer_confidence,
        {{ safe_divide('pairs.count_customers_together', 'customer_a.customers_with_product') }}
            / {{ safe_divide('customer_b.customers_with_product', 'totals.count_customers') }} as customer_lift
    from pairs
    cross join totals
    left join product_baskets as product_a
        on pairs.product_id = product_a.product_id
    left join product_baskets as product_b
        on pairs.paired_product_id = product_b.product_id
    left join product_customers as customer_a
        on pairs.product_id = customer_a.product_id
    left join product_customers as customer_b
        on pairs.paired_product_id = customer_b.product_id

)

select * from final
