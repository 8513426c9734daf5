-- One row per 定期 delivery: a valid order with is_subscription = true of a known customer that
-- was not cancelled, with the product it delivered (the product of its lowest line number; null
-- when the order has no valid line) and the contract it names (orders.subscription_id, optional).
with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

items as (

    select * from {{ ref('stg_shop__order_items') }}

),

first_lines as (

    select
        order_id,
        product_id,
        row_number() over (partition by order_id order by line_number) as line_rank
    from items

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.subscription_id,
        first_lines.product_id,
        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.order_total
    from orders
    left join first_lines
        on orders.order_id = first_lines.order_id
        and first_lines.line_rank = 1
    where orders.is_subscription
        and orders.customer_id is not null
        and orders.status != 'cancelled'

)

select * from final
