-- One row per 定期 subscription known by as_of_date with its deliveries: a contract from the
-- subscriptions table, or, when the shop has no contract (the table is empty), one inferred from
-- is_subscription orders (int_subscriptions_inferred; is_inferred = true). fct_subscriptions adds
-- the acquisition channel and the deliveries a subscription is old enough to have reached; the
-- audiences' 定期 features read the start and cancellation dates here.
-- Deliveries of a contract: its subscription orders (int_subscription_orders). An order that names
-- its contract (orders.subscription_id) counts for that contract exactly; an order without one is
-- matched to a contract of the same customer that started on or before the order and was not
-- cancelled before it: one of the same product first (the latest such start), else any (a rotating
-- course or a flavour switch delivers another product under the same contract). count_product_switches: the
-- deliveries whose product differs from the subscription's previous delivery (a flavour switch or a
-- rotating course, not a cancellation).
{%- set default_interval = var('subscription_default_interval_days') %}
with contracts as (

    select * from {{ ref('stg_shop__subscriptions') }}

),

deliveries as (

    select * from {{ ref('int_subscription_orders') }}

),

inferred as (

    select * from {{ ref('int_subscriptions_inferred') }}

),

contract_count as (

    select cast(count(*) as bigint) as n from contracts

),

-- orders that name a known contract
named_deliveries as (

    select
        deliveries.order_id,
        contracts.subscription_id
    from deliveries
    inner join contracts
        on deliveries.subscription_id = contracts.subscription_id

),

-- the other subscription orders: the customer's contract running on the order's day, of the same
-- product first, then the one that started last
matched_candidates as (

    select
        deliveries.order_id,
        contracts.subscription_id,
        row_number() over (
            partition by deliveries.order_id
            order by case when deliveries.product_id = contracts.product_id then 0 else 1 end,
                contracts.started_at desc, contracts.subscription_id desc
        ) as match_rank
    from deliveries
    inner join contracts
        on deliveries.customer_id = contracts.customer_id
        and deliveries.order_date >= contracts.started_date
        and (contracts.cancelled_date is null or deliveries.order_date <= contracts.cancelled_date)
    where deliveries.order_id not in (select named_deliveries.order_id from named_deliveries)

),

assigned as (

    select order_id, subscription_id from named_deliveries
    union all
    select order_id, subscription_id from matched_candidates where match_rank = 1

),

assigned_sequence as (

    select
        assigned.subscription_id,
        deliveries.order_date,
        deliveries.order_total,
        case
            when lag(deliveries.product_id) over (
                partition by assigned.subscription_id order by deliveries.ordered_at, deliveries.order_id
            ) != deliveries.product_id then 1
            else 0
        end as is_switch
    from assigned
    inner join deliveries
        on assigned.order_id = deliveries.order_id

),

contract_deliveries as (

    select
        subscription_id,
        cast(count(*) as bigint) as count_deliveries,
        cast(sum(is_switch) as bigint) as count_product_switches,
        max(order_date) as last_delivery_date,
        cast(sum(order_total) as decimal(18, 2)) as delivery_revenue
    from assigned_sequence
    group by subscription_id

),

from_contracts as (

    select
        contracts.subscription_id,
        contracts.customer_id,
        contracts.product_id,
        contracts.started_date,
        cast(coalesce(contracts.interval_days, {{ default_interval }}) as bigint) as interval_days,
        contracts.status,
        case when contracts.status = 'cancelled' then contracts.cancelled_date end as cancelled_date,
        case when contracts.status = 'cancelled' then coalesce(contracts.cancel_reason, 'unknown') end as cancel_reason,
        coalesce(contracts.offer_code, 'none') as offer_code,
        coalesce(contract_deliveries.count_deliveries, 0) as count_deliveries,
        coalesce(contract_deliveries.count_product_switches, 0) as count_product_switches,
        contract_deliveries.last_delivery_date,
        coalesce(contract_deliveries.delivery_revenue, 0) as delivery_revenue,
        false as is_inferred
    from contracts
    left join contract_deliveries
        on contracts.subscription_id = contract_deliveries.subscription_id

),

from_orders as (

    select
        inferred.subscription_id,
        inferred.customer_id,
        inferred.product_id,
        inferred.started_date,
        inferred.interval_days,
        inferred.status,
        case when inferred.status = 'cancelled' then inferred.last_delivery_date end as cancelled_date,
        case when inferred.status = 'cancelled' then 'unknown' end as cancel_reason,
        'none' as offer_code,
        inferred.count_deliveries,
        inferred.count_product_switches,
        inferred.last_delivery_date,
        inferred.delivery_revenue,
        true as is_inferred
    from inferred
    cross join contract_count
    where contract_count.n = 0

),

final as (

    select * from from_contracts
    union all
    select * from from_orders

)

select * from final
