-- THE acquisition-channel rule, in one place (raw-contract.md, "Channels"). One row per customer
-- with at least one order:
--   1. the channel of the session that holds the `purchase` event of their first purchase;
--   2. else their acquisition_source (source/medium) mapped through channel_rules;
--   3. else `unknown`.
-- Every mart that reports by acquisition channel reads it from here (via int_customer_purchases).
with orders as (

    select * from {{ ref('int_orders_enriched') }}

),

sessions as (

    select * from {{ ref('int_sessions') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

channels as (

    select * from {{ ref('int_channel_mapping') }}

),

customers_with_orders as (

    select distinct customer_id from orders where customer_id is not null

),

first_purchases as (

    select customer_id, order_id
    from orders
    where purchase_number = 1

),

first_purchase_sessions as (

    select
        first_purchases.customer_id,
        sessions.channel,
        row_number() over (
            partition by first_purchases.customer_id order by sessions.started_at, sessions.session_id
        ) as session_rank
    from first_purchases
    inner join sessions
        on first_purchases.order_id = sessions.order_id

),

source_channels as (

    select
        customers.customer_id,
        channels.channel
    from customers
    inner join channels
        on customers.acquisition_source_key = channels.source_key
        and customers.acquisition_medium_key = channels.medium_key
    where customers.acquisition_source is not null

),

final as (

    select
        customers_with_orders.customer_id,
        coalesce(first_purchase_sessions.channel, source_channels.channel, 'unknown') as acquisition_channel,
        case
            when first_purchase_sessions.channel is not null then 'first_purchase_session'
            when source_channels.channel is not null then 'acquisition_source'
            else 'none'
        end as acquisition_channel_basis
    from customers_with_orders
    left join first_purchase_sessions
        on customers_with_orders.customer_id = first_purchase_sessions.customer_id
        and first_purchase_sessions.session_rank = 1
    left join source_channels
        on customers_with_orders.customer_id = source_channels.customer_id

)

select * from final
