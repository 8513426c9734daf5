-- One row per order line of a valid order, with the product's category, the line value
-- (quantity x unit_price) and cost (quantity x unit_cost; a missing unit_cost is unit_price x
-- var default_cost_rate). Products not in the products table get category `unknown`.
with items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        items.order_id,
        items.line_number,
        items.product_id,
        coalesce(products.category, 'unknown') as category,
        items.quantity,
        items.unit_price,
        cast(items.quantity * items.unit_price as {{ money_type() }}) as line_value,
        cast(items.quantity * coalesce(products.unit_cost, items.unit_price * {{ var('default_cost_rate') }}) as {{ money_type() }}) as line_cost,
        products.unit_cost is null as is_cost_estimated
    from items
    left join products
        on items.product_id = products.product_id

)

select * from final
