-- One row per product x next product: among customers who bought product_id in one purchase and
-- made another purchase after it, how many bought next_product_id in that next purchase (買い回り).
-- A next product in a one-off category (seed product_categories, e.g. outerwear) is left out when
-- the customer already owned a product of that category: nobody wants a second coat (text 004).
-- share = count_customers / customers who bought product_id and purchased again. The mart
-- next_product and the personalized offers (int_offer_evidence) read it.
with purchase_lines as (

    select distinct customer_id, purchase_number, product_id, category
    from {{ ref('int_purchase_lines') }}
    where purchase_number is not null

),

one_off_categories as (

    select category from {{ ref('product_categories') }} where is_one_off

),

one_off_owned as (

    select purchase_lines.customer_id, purchase_lines.category, min(purchase_lines.purchase_number) as first_owned_at
    from purchase_lines
    inner join one_off_categories
        on purchase_lines.category = one_off_categories.category
    group by 1, 2

),

transitions as (

    select
        current_purchase.customer_id,
        current_purchase.product_id,
        next_purchase.product_id as next_product_id,
        next_purchase.category as next_category,
        one_off_owned.first_owned_at is not null as is_owned_one_off
    from purchase_lines as current_purchase
    inner join purchase_lines as next_purchase
        on current_purchase.customer_id = next_purchase.customer_id
        and next_purchase.purchase_number = current_purchase.purchase_number + 1
    left join one_off_owned
        on next_purchase.customer_id = one_off_owned.customer_id
        and next_purchase.category = one_off_owned.category
        and one_off_owned.first_owned_at <= current_purchase.purchase_number

),

bases as (

    select product_id, count(distinct customer_id) as customers_buying_again
    from transitions
    group by product_id

),

counted as (

    select product_id, next_product_id, next_category, cast(count(distinct customer_id) as bigint) as count_customers
    from transitions
    where not is_owned_one_off
    group by 1, 2, 3

),

final as (

    select
        counted.product_id,
        counted.next_product_id,
        counted.next_category,
        counted.count_customers,
        cast(bases.customers_buying_again as bigint) as count_customers_buying_again,
        {{ safe_divide('counted.count_customers', 'bases.customers_buying_again') }} as share
    from counted
    inner join bases
        on counted.product_id = bases.product_id

)

select * from final
