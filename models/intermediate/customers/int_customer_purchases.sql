-- One row per customer with at least one order known by as_of_date: first and second purchase,
-- lifetime purchases and revenue, cohort month, first category and first order channel, and the
-- acquisition channel. The shared base of the customer marts (one definition of "purchase":
-- status completed).
with orders as (

    select * from {{ ref('int_orders_enriched') }}

),

lines as (

    select * from {{ ref('int_order_lines_costed') }}

),

acquisition as (

    select * from {{ ref('int_customer_acquisition') }}

),

per_customer as (

    select
        customer_id,
        min(ordered_at) as first_ordered_at,
        min(case when is_purchase then order_date end) as first_purchase_date,
        max(case when is_purchase then order_date end) as last_purchase_date,
        max(case when purchase_number = 2 then order_date end) as second_purchase_date,
        max(case when purchase_number = 1 then order_id end) as first_purchase_order_id,
        max(case when purchase_number = 1 then order_channel end) as first_purchase_order_channel,
        cast(sum(case when is_purchase then 1 else 0 end) as bigint) as count_purchases,
        cast(count(*) as bigint) as count_orders,
        cast(coalesce(sum(case when is_purchase then order_total end), 0) as {{ money_type() }}) as lifetime_revenue,
        cast(coalesce(sum(case when is_purchase then gross_profit end), 0) as {{ money_type() }}) as lifetime_gross_profit
    from orders
    where customer_id is not null
    group by customer_id

),

first_order_channels as (

    select
        customer_id,
        order_channel,
        row_number() over (partition by customer_id order by ordered_at, order_id) as order_rank
    from orders
    where customer_id is not null

),

-- first category: category of the highest-value line of the first purchase (ties alphabetical)
first_lines as (

    select
        orders.customer_id,
        lines.category,
        row_number() over (
            partition by orders.customer_id order by lines.line_value desc, lines.category
        ) as line_rank
    from orders
    inner join lines
        on orders.order_id = lines.order_id
    where orders.purchase_number = 1

),

final as (

    select
        per_customer.customer_id,
        per_customer.first_ordered_at,
        per_customer.first_purchase_date,
        per_customer.second_purchase_date,
        per_customer.last_purchase_date,
        per_customer.first_purchase_order_id,
        per_customer.count_purchases,
        per_customer.count_orders,
        per_customer.lifetime_revenue,
        per_customer.lifetime_gross_profit,
        {{ days_between('per_customer.first_purchase_date', 'per_customer.second_purchase_date') }} as days_to_second_purchase,
        case when per_customer.first_purchase_date is not null
            then {{ month_text('per_customer.first_purchase_date') }}
        end as cohort_month,
        case when per_customer.first_purchase_date is not null
            then coalesce(first_lines.category, 'unknown')
        end as first_category,
        coalesce(per_customer.first_purchase_order_channel, first_order_channels.order_channel) as first_order_channel,
        acquisition.acquisition_channel,
        acquisition.acquisition_channel_basis
    from per_customer
    left join first_order_channels
        on per_customer.customer_id = first_order_channels.customer_id
        and first_order_channels.order_rank = 1
    left join first_lines
        on per_customer.customer_id = first_lines.customer_id
        and first_lines.line_rank = 1
    left join acquisition
        on per_customer.customer_id = acquisition.customer_id

)

select * from final
