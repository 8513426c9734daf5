-- One row per subscription inferred from orders (domain.md "定期 subscription"), for shops without
-- a subscriptions table: a customer's run of subscription orders, whatever the product (定期便
-- courses rotate products and customers switch flavours: a product change is a switch, counted in
-- count_product_switches, not a cancellation), ended when no subscription order arrives within
-- subscription_gap_factor x the interval.
--   lane           the deliveries one subscription can hold: all of a customer's subscription
--                  orders, unless deliveries of different products overlap within one cycle; then
--                  the customer holds one subscription per product at once and each product is a lane
--   overlap        a delivery of another product than the customer's previous delivery, on the same
--                  day or less than half a cycle after it, the cycle being the shorter of the gaps
--                  around it (a single subscription's consecutive deliveries are about one cycle apart,
--                  a switch or the next course included; two interleaved ones alternate a short and a
--                  long gap)
--   split interval = median gap of ALL the lane's orders (robust to the few long gaps that are the
--                  breaks themselves), else subscription_default_interval_days
--   a gap > factor x split interval starts a new run (a skipped delivery / short pause does not)
--   product_id     the product of the run's first delivery
--   interval_days  = median gap within the run, else the default
--   status         = cancelled when last delivery + factor x interval_days < as_of_date (the next
--                    delivery is overdue beyond the gap rule), else active; cancelled_date = last
--                    delivery date (the cancellation itself is not observed)
{%- set factor = var('subscription_gap_factor') %}
{%- set default_interval = var('subscription_default_interval_days') %}
with deliveries as (

    select
        customer_id,
        coalesce(product_id, 'unknown') as product_id,
        order_id,
        ordered_at,
        order_date,
        order_total
    from {{ ref('int_subscription_orders') }}

),

customer_sequence as (

    select
        deliveries.*,
        lag(product_id) over (partition by customer_id order by ordered_at, order_id) as previous_product_id,
        {{ days_between(
            'lag(order_date) over (partition by customer_id order by ordered_at, order_id)', 'order_date'
        ) }} as customer_gap_days
    from deliveries

),

neighbours as (

    select
        customer_sequence.*,
        lag(customer_gap_days) over (partition by customer_id order by ordered_at, order_id) as previous_gap_days,
        lead(customer_gap_days) over (partition by customer_id order by ordered_at, order_id) as next_gap_days
    from customer_sequence

),

customer_lanes as (

    select
        customer_id,
        max(case
            when previous_product_id = product_id or customer_gap_days is null then 0
            when customer_gap_days = 0 then 1
            when customer_gap_days < 0.5 * least(
                coalesce(previous_gap_days, next_gap_days), coalesce(next_gap_days, previous_gap_days)
            ) then 1
            else 0
        end) as has_overlap
    from neighbours
    group by customer_id

),

laned as (

    select
        deliveries.*,
        case when coalesce(customer_lanes.has_overlap, 0) = 1 then deliveries.product_id end as lane_product_id
    from deliveries
    left join customer_lanes
        on deliveries.customer_id = customer_lanes.customer_id

),

ordered as (

    select
        customer_id,
        coalesce(lane_product_id, '*') as lane,
        lane_product_id,
        product_id,
        order_id,
        order_date,
        order_total,
        lag(order_date) over (partition by customer_id, coalesce(lane_product_id, '*') order by ordered_at, order_id) as previous_order_date,
        lag(product_id) over (partition by customer_id, coalesce(lane_product_id, '*') order by ordered_at, order_id) as previous_product_id,
        row_number() over (partition by customer_id, coalesce(lane_product_id, '*') order by ordered_at, order_id) as order_rank
    from laned

),

sequenced as (

    select
        customer_id,
        lane,
        lane_product_id,
        product_id,
        order_id,
        order_date,
        order_total,
        {{ days_between('previous_order_date', 'order_date') }} as gap_days,
        case when previous_product_id is not null and previous_product_id != product_id then 1 else 0 end as is_switch,
        order_rank
    from ordered

),

lane_intervals as (

    select
        customer_id,
        lane,
        cast({{ percentile_cont('gap_days', 0.5) }} as double) as median_gap_days
    from sequenced
    where gap_days is not null
    group by customer_id, lane

),

flagged as (

    select
        sequenced.*,
        case
            when sequenced.gap_days is null then 1
            when sequenced.gap_days > {{ factor }} * coalesce(lane_intervals.median_gap_days, {{ default_interval }}) then 1
            else 0
        end as is_run_start
    from sequenced
    left join lane_intervals
        on sequenced.customer_id = lane_intervals.customer_id
        and sequenced.lane = lane_intervals.lane

),

runs as (

    select
        flagged.*,
        sum(is_run_start) over (
            partition by customer_id, lane order by order_rank rows between unbounded preceding and current row
        ) as run_number
    from flagged

),

per_run as (

    select
        customer_id,
        lane,
        lane_product_id,
        run_number,
        min(order_date) as started_date,
        max(order_date) as last_delivery_date,
        min(order_rank) as first_order_rank,
        cast(count(*) as bigint) as count_deliveries,
        cast(sum(case when is_run_start = 0 then is_switch else 0 end) as bigint) as count_product_switches,
        cast(sum(order_total) as decimal(18, 2)) as delivery_revenue,
        cast({{ percentile_cont('case when is_run_start = 0 then gap_days end', 0.5) }} as double) as median_gap_days
    from runs
    group by customer_id, lane, lane_product_id, run_number

),

final as (

    select
        concat(
            'inferred:', per_run.customer_id, ':',
            case when per_run.lane_product_id is not null then concat(per_run.lane_product_id, ':') else '' end,
            cast(per_run.run_number as {{ dbt.type_string() }})
        ) as subscription_id,
        per_run.customer_id,
        first_delivery.product_id,
        per_run.started_date,
        cast(coalesce(round(per_run.median_gap_days), {{ default_interval }}) as bigint) as interval_days,
        case
            when {{ add_days('per_run.last_delivery_date', factor ~ ' * cast(coalesce(round(per_run.median_gap_days), ' ~ default_interval ~ ') as integer)') }} < {{ as_of_date() }}
                then 'cancelled'
            else 'active'
        end as status,
        per_run.last_delivery_date,
        per_run.count_deliveries,
        per_run.count_product_switches,
        per_run.delivery_revenue
    from per_run
    inner join runs as first_delivery
        on per_run.customer_id = first_delivery.customer_id
        and per_run.lane = first_delivery.lane
        and per_run.first_order_rank = first_delivery.order_rank

)

select * from final
