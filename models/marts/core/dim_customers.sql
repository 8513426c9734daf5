-- One row per customer with at least one order on or before as_of_date (guests, who have no
-- customer_id, are not customers). No personal data: e-mail and name stay in raw.
with purchases as (

    select * from {{ ref('int_customer_purchases') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

portfolio as (

    select customer_id, cpm_state, cpm_state_ja
    from {{ ref('customer_portfolio_monthly') }}
    where is_as_of_row

),

predictions as (

    select customer_id, p_alive, churn_risk, predicted_clv
    from {{ ref('customer_predictions') }}

),

-- contact timing (text 004): the hour and weekday a customer usually orders (purchases when they
-- have any, else all orders); ties go to the earliest hour / weekday
order_times as (

    select
        customer_id,
        {{ hour_of('ordered_at') }} as order_hour,
        {{ iso_weekday('ordered_at') }} as order_weekday,
        is_purchase
    from {{ ref('int_orders_enriched') }}
    where customer_id is not null

),

timing_basis as (

    select
        order_times.*
    from order_times
    inner join purchases
        on order_times.customer_id = purchases.customer_id
    where order_times.is_purchase or purchases.count_purchases = 0

),

preferred_hours as (

    select
        customer_id,
        order_hour,
        row_number() over (partition by customer_id order by count(*) desc, order_hour) as hour_rank
    from timing_basis
    group by customer_id, order_hour

),

preferred_weekdays as (

    select
        customer_id,
        order_weekday,
        row_number() over (partition by customer_id order by count(*) desc, order_weekday) as weekday_rank
    from timing_basis
    group by customer_id, order_weekday

),

final as (

    select
        purchases.customer_id,
        customers.registered_at,
        customers.prefecture,
        customers.birth_year,
        purchases.first_ordered_at,
        purchases.first_purchase_date,
        purchases.second_purchase_date,
        purchases.last_purchase_date,
        purchases.count_orders,
        purchases.count_purchases,
        purchases.lifetime_revenue,
        purchases.lifetime_gross_profit,
        purchases.acquisition_channel,
        purchases.acquisition_channel_basis,
        purchases.first_order_channel,
        purchases.first_category,
        purchases.cohort_month,
        rfm.rfm_segment,
        rfm.loyalty_tier,
        rfm.loyalty_tier_ja,
        rfm.ltv,
        portfolio.cpm_state,
        portfolio.cpm_state_ja,
        preferred_hours.order_hour as preferred_order_hour,
        preferred_weekdays.order_weekday as preferred_order_weekday,
        predictions.p_alive,
        predictions.churn_risk,
        predictions.predicted_clv
    from purchases
    left join customers
        on purchases.customer_id = customers.customer_id
    left join rfm
        on purchases.customer_id = rfm.customer_id
    left join portfolio
        on purchases.customer_id = portfolio.customer_id
    left join preferred_hours
        on purchases.customer_id = preferred_hours.customer_id
        and preferred_hours.hour_rank = 1
    left join preferred_weekdays
        on purchases.customer_id = preferred_weekdays.customer_id
        and preferred_weekdays.weekday_rank = 1
    left join predictions
        on purchases.customer_id = predictions.customer_id

)

select * from final
