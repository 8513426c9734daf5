-- One row per customer with a purchase on or before as_of_date: the BG/NBD and Gamma-Gamma
-- inputs in days as of as_of_date (x = repeat purchase days, t_x, T, mean repeat day value) and
-- the same as of the calibration end (as_of_date - clv_holdout_days), with the purchases and
-- revenue of the holdout after it. Same-day purchases are one transaction; the first purchase
-- day is not a repeat. The run's model settings ride along so the Python fit reads one source.
-- 定期 deliveries (int_subscription_orders) are a contract's, predicted from the subscription's
-- survival (customer_predictions): the first purchase day counts whatever was bought, the repeat
-- days, their values and the holdout only the other purchases (domain.md "Predicted lifetime
-- value and churn").
with orders as (

    select * from {{ ref('int_orders_enriched') }}

),

deliveries as (

    select order_id from {{ ref('int_subscription_orders') }}

),

first_purchases as (

    select
        customer_id,
        min(order_date) as first_purchase_date
    from orders
    where is_purchase and customer_id is not null
    group by customer_id

),

free_purchase_days as (

    select
        orders.customer_id,
        orders.order_date as purchase_date,
        sum(orders.order_total) as day_value
    from orders
    left join deliveries
        on orders.order_id = deliveries.order_id
    where orders.is_purchase and orders.customer_id is not null and deliveries.order_id is null
    group by orders.customer_id, orders.order_date

),

-- each customer's first purchase day (whatever was bought) and their other purchase days
day_parts as (

    select
        customer_id,
        first_purchase_date as purchase_date,
        cast(0 as double) as day_value
    from first_purchases

    union all

    select
        customer_id,
        purchase_date,
        cast(day_value as double) as day_value
    from free_purchase_days

),

purchase_days as (

    select
        customer_id,
        purchase_date,
        sum(day_value) as day_value
    from day_parts
    group by customer_id, purchase_date

),

calibration_end as (

    select {{ add_days(as_of_date(), -var('clv_holdout_days')) }} as calibration_end_date

),

ranked as (

    select
        purchase_days.*,
        calibration_end.calibration_end_date,
        min(purchase_days.purchase_date) over (partition by purchase_days.customer_id) as first_purchase_date,
        min(case when purchase_days.purchase_date <= calibration_end.calibration_end_date
                then purchase_days.purchase_date end)
            over (partition by purchase_days.customer_id) as cal_first_purchase_date
    from purchase_days
    cross join calibration_end

),

per_customer as (

    select
        customer_id,
        calibration_end_date,
        first_purchase_date,
        max(purchase_date) as last_purchase_date,
        cast(count(*) - 1 as bigint) as x,
        avg(case when purchase_date > first_purchase_date then day_value end) as mean_repeat_value,
        max(cal_first_purchase_date) as cal_first_purchase_date,
        max(case when purchase_date <= calibration_end_date then purchase_date end) as cal_last_purchase_date,
        cast(sum(case when purchase_date <= calibration_end_date then 1 else 0 end) as bigint) as cal_days,
        avg(case when purchase_date > cal_first_purchase_date and purchase_date <= calibration_end_date
                 then day_value end) as cal_mean_repeat_value,
        cast(sum(case when purchase_date > calibration_end_date then 1 else 0 end) as bigint) as holdout_purchases,
        sum(case when purchase_date > calibration_end_date then day_value else 0 end) as holdout_revenue
    from ranked
    group by customer_id, calibration_end_date, first_purchase_date

),

final as (

    select
        customer_id,
        {{ as_of_date() }} as as_of_date,
        first_purchase_date,
        last_purchase_date,
        x,
        cast({{ days_between('first_purchase_date', 'last_purchase_date') }} as bigint) as t_x,
        cast({{ days_between('first_purchase_date', as_of_date()) }} as bigint) as big_t,
        cast(mean_repeat_value as double) as mean_repeat_value,
        calibration_end_date,
        cal_first_purchase_date is not null as in_calibration,
        case when cal_days > 0 then cal_days - 1 end as cal_x,
        cast({{ days_between('cal_first_purchase_date', 'cal_last_purchase_date') }} as bigint) as cal_t_x,
        cast({{ days_between('cal_first_purchase_date', 'calibration_end_date') }} as bigint) as cal_big_t,
        cast(cal_mean_repeat_value as double) as cal_mean_repeat_value,
        case when cal_days > 0 then holdout_purchases end as holdout_purchases,
        cast(case when cal_days > 0 then holdout_revenue end as {{ money_type() }}) as holdout_revenue,
        cast({{ var('clv_holdout_days') }} as bigint) as holdout_days,
        cast(round({{ var('ltv_horizon_years') }} * 365) as bigint) as ltv_horizon_days,
        cast({{ var('clv_min_repeat_customers') }} as bigint) as min_repeat_customers,
        cast({{ var('clv_min_history_days') }} as bigint) as min_history_days
    from per_customer

)

select * from final
