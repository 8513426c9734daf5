-- One row per order (all statuses) known by as_of_date, with its lines summed, gross profit and,
-- for purchases (status completed) of known customers, the purchase number and the days since
-- the customer's previous purchase. Purchases are counted per order: two orders on one day are
-- two purchases; ties on the same instant are ordered by order_id.
with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

lines as (

    select
        order_id,
        cast(count(*) as bigint) as count_lines,
        cast(sum(quantity) as bigint) as total_quantity,
        sum(line_value) as items_value,
        sum(line_cost) as items_cost
    from {{ ref('int_order_lines_costed') }}
    group by order_id

),

joined as (

    select
        orders.*,
        coalesce(lines.count_lines, 0) as count_lines,
        coalesce(lines.total_quantity, 0) as total_quantity,
        -- gross profit = order_total - shipping_fee - cost of goods; an order with no lines is
        -- costed at var default_cost_rate of its merchandise value.
        cast(
            orders.order_total - coalesce(orders.shipping_fee, 0)
            - coalesce(lines.items_cost, (orders.order_total - coalesce(orders.shipping_fee, 0)) * {{ var('default_cost_rate') }})
            as {{ money_type() }}
        ) as gross_profit
    from orders
    left join lines
        on orders.order_id = lines.order_id

),

numbered as (

    select
        *,
        case when is_purchase and customer_id is not null then
            cast(row_number() over (
                partition by customer_id, is_purchase order by ordered_at, order_id
            ) as bigint)
        end as purchase_number,
        case when is_purchase and customer_id is not null then
            lag(order_date) over (partition by customer_id, is_purchase order by ordered_at, order_id)
        end as previous_purchase_date
    from joined

),

final as (

    select
        *,
        {{ days_between('previous_purchase_date', 'order_date') }} as days_since_previous_purchase
    from numbered

)

select * from final
