-- One row per order line of a purchase (completed order) on or before as_of_date: the product
-- side of "purchase", shared by the product marts, the tier profile and the abandoned-cart list.
with orders as (

    select * from {{ ref('int_orders_enriched') }}

),

lines as (

    select * from {{ ref('int_order_lines_costed') }}

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.ordered_at,
        orders.purchase_number,
        lines.line_number,
        lines.product_id,
        lines.category,
        lines.quantity,
        lines.line_value
    from orders
    inner join lines
        on orders.order_id = lines.order_id
    where orders.is_purchase

)

select * from final
