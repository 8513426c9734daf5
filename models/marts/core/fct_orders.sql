-- One row per order (all statuses) placed on or before as_of_date.
with orders as (

    select * from {{ ref('int_orders_enriched') }}

),

final as (

    select
        order_id,
        customer_id,
        ordered_at,
        order_date,
        status,
        is_purchase,
        cast(order_total as {{ money_type() }}) as order_total,
        cast(discount_total as {{ money_type() }}) as discount_total,
        cast(shipping_fee as {{ money_type() }}) as shipping_fee,
        gross_profit,
        purchase_number,
        days_since_previous_purchase,
        order_channel,
        is_subscription,
        count_lines,
        total_quantity,
        customer_id is null as is_guest
    from orders

)

select * from final
