-- One row per ordered product pair (product_id, then paired_product_id) bought together (併売), in
-- one purchase (order level) or by one customer across purchases (customer level), with support,
-- confidence and lift at both levels. The rules are int_product_pairs'.
with pairs as (

    select * from {{ ref('int_product_pairs') }}

),

final as (

    select
        product_id,
        paired_product_id,
        count_orders_together,
        count_customers_together,
        support,
        confidence,
        lift,
        customer_support,
        customer_confidence,
        customer_lift
    from pairs

)

select * from final
