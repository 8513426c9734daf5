-- One row per product x next product (買い回り): among customers who bought product_id in one
-- purchase and made another purchase after it, how many bought next_product_id in that next
-- purchase, and the share. The rules are int_next_products' (a second item of a one-off category
-- a customer owns does not count).
with next_products as (

    select * from {{ ref('int_next_products') }}

),

final as (

    select
        product_id,
        next_product_id,
        next_category,
        count_customers,
        count_customers_buying_again,
        share
    from next_products

)

select * from final
