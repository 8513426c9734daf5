-- One row per subscription inferred from orders (domain.md "定期 subscription"), for shops without
-- a subscriptions table: a customer's run of subscription orders of one product, ended when no
-- subscription order arrives within subscription_gap_factor x the interval.
--   split interval = median gap of ALL the customer's subscription orders of that product (robust
--     to the few long gaps that are the breaks themselves), else subscription_default_interval_days
--   a gap > factor x split interval starts a new run (a skipped delivery / short pause does not)
--   interval_days  = median gap within the run, else the default
--   status         = cancelled when last delivery + factor x interval_days < as_of_date (the next
--                    delivery is overdue beyond the gap rule), else active; cancelled_date = last
--                    delivery date (the cancellation itself is not observed)
{%- set factor = var('subscription_gap_factor') %}
{%- set default_interval = var('subscription_default_interval_days') %}
with deliveries as (

    select * from {{ ref('int_subscription_orders') }}

),

ordered as (

    select
        customer_id,
        coalesce(product_id, 'unknown') as product_id,
        order_id,
        order_date,
        order_total,
        lag(order_date) over (partition by customer_id, coalesce(product_id, 'unknown') order by ordered_at, order_id) as previous_order_date,
        row_number() over (partition by customer_id, coalesce(product_id, 'unknown') order by ordered_at, order_id) as order_rank
    from deliveries

),

sequenced as (

    select
        customer_id,
        product_id,
        order_id,
        order_date,
        order_total,
        {{ days_between('previous_order_date', 'order_date') }} as gap_days,
        order_rank
    from ordered

),

pair_intervals as (

    select
        customer_id,
        product_id,
        cast({{ percentile_cont('gap_days', 0.5) }} as double) as median_gap_days
    from sequenced
    where gap_days is not null
    group by customer_id, product_id

),

flagged as (

    select
        sequenced.*,
        case
            when sequenced.gap_days is null then 1
            when sequenced.gap_days > {{ factor }} * coalesce(pair_intervals.median_gap_days, {{ default_interval }}) then 1
            else 0
        end as is_run_start
    from sequenced
    left join pair_intervals
        on sequenced.customer_id = pair_intervals.customer_id
        and sequenced.product_id = pair_intervals.product_id

),

runs as (

    select
        flagged.*,
        sum(is_run_start) over (
            partition by customer_id, product_id order by order_rank rows between unbounded preceding and current row
        ) as run_number
    from flagged

),

per_run as (

    select
        customer_id,
        product_id,
        run_number,
        min(order_date) as started_date,
        max(order_date) as last_delivery_date,
        cast(count(*) as bigint) as count_deliveries,
        cast(sum(order_total) as decimal(18, 2)) as delivery_revenue,
        cast({{ percentile_cont('case when is_run_start = 0 then gap_days end', 0.5) }} as double) as median_gap_days
    from runs
    group by customer_id, product_id, run_number

),

final as (

    select
        concat('inferred:', customer_id, ':', product_id, ':', cast(run_number as {{ dbt.type_string() }})) as subscription_id,
        customer_id,
        product_id,
        started_date,
        cast(coalesce(round(median_gap_days), {{ default_interval }}) as bigint) as interval_days,
        case
            when {{ add_days('last_delivery_date', factor ~ ' * cast(coalesce(round(median_gap_days), ' ~ default_interval ~ ') as integer)') }} < {{ as_of_date() }}
                then 'cancelled'
            else 'active'
        end as status,
        last_delivery_date,
        count_deliveries,
        delivery_revenue
    from per_run

)

select * from final
