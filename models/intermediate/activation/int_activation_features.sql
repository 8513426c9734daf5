-- One row per known customer x feature_date, for every day of the activation window
-- (as_of_date - activation_lookback_days .. as_of_date): the per-customer features the audience
-- rules (seed activation_audience_rules) are written against, each as of that day, from the data
-- alone (no stored state), so a rerun or a backfill gives the same rows. Known customer: a
-- registered customer (guests have no customer_id). The rules for tier, CPM and churn band are the
-- macros the marts use (macros/customer_rules.sql). P(alive) of an earlier day uses the parameters
-- fitted as of as_of_date (the `full` fit; null without one).
with customers as (

    select customer_id, registered_date from {{ ref('stg_shop__customers') }}

),

days as (

    select date_day as feature_date
    from {{ ref('int_calendar_days') }}
    where date_day > {{ add_days(as_of_date(), - var('activation_lookback_days') - 1) }}
        and date_day <= {{ as_of_date() }}

),

purchases as (

    select customer_id, order_date, order_total
    from {{ ref('fct_orders') }}
    where is_purchase and customer_id is not null

),

carts as (

    select distinct customer_id, session_date
    from {{ ref('abandoned_carts') }}
    where customer_id is not null

),

subscriptions as (

    select customer_id, product_id, started_date, cancelled_date from {{ ref('fct_subscriptions') }}

),

subscribable_lines as (

    select purchase_lines.customer_id, min(purchase_lines.order_date) as first_bought_date
    from {{ ref('int_purchase_lines') }} as purchase_lines
    where purchase_lines.product_id in (select product_id from subscriptions)
    group by purchase_lines.customer_id

),

fit as (

    select r, alpha, a, b
    from {{ source('model_fits', 'clv_fits') }}
    where fit = 'full' and status = 'fitted' and as_of_date = {{ as_of_date() }}

),

grid as (

    select customers.customer_id, days.feature_date
    from customers
    cross join days
    where customers.registered_date is null or customers.registered_date <= days.feature_date

),

history as (

    select
        grid.customer_id,
        grid.feature_date,
        count(purchases.order_date) as purchases,
        count(distinct purchases.order_date) as purchase_days,
        min(purchases.order_date) as first_purchase_date,
        max(purchases.order_date) as last_purchase_date,
        sum(purchases.order_total) as lifetime_revenue,
        sum(case
            when purchases.order_date > {{ add_days('grid.feature_date', - var('loyalty_window_days')) }} then 1 else 0
        end) as purchases_in_loyalty_window
    from grid
    left join purchases
        on grid.customer_id = purchases.customer_id
        and purchases.order_date <= grid.feature_date
    group by grid.customer_id, grid.feature_date

),

measured as (

    select
        history.*,
        {{ days_between('history.first_purchase_date', 'history.feature_date') }} as days_since_first_purchase,
        {{ days_between('history.last_purchase_date', 'history.feature_date') }} as days_since_last_purchase,
        {{ days_between('history.first_purchase_date', 'history.last_purchase_date') }} as tenure_days
    from history

),

subscribed as (

    select grid.customer_id, grid.feature_date
    from grid
    inner join subscriptions
        on grid.customer_id = subscriptions.customer_id
        and subscriptions.started_date <= grid.feature_date
        and (subscriptions.cancelled_date is null or subscriptions.cancelled_date > grid.feature_date)
    group by grid.customer_id, grid.feature_date

),

alive as (

    select
        measured.customer_id,
        measured.feature_date,
        {{ bgnbd_p_alive('fit.r', 'fit.alpha', 'fit.a', 'fit.b',
                         'cast(measured.purchase_days - 1 as double)',
                         'cast(measured.tenure_days as double)',
                         'cast(measured.days_since_first_purchase as double)') }} as p_alive
    from measured
    cross join fit
    where measured.purchases > 0

),

final as (

    select
        measured.customer_id,
        measured.feature_date,
        cast(measured.purchases as bigint) as purchases,
        measured.days_since_first_purchase,
        measured.days_since_last_purchase,
        cast(measured.purchases_in_loyalty_window as bigint) as purchases_in_loyalty_window,
        cast(coalesce(measured.lifetime_revenue, 0) as {{ money_type() }}) as lifetime_revenue,
        case when measured.purchases > 0
            then {{ loyalty_tier('measured.purchases', 'measured.purchases_in_loyalty_window') }}
        end as loyalty_tier,
        case when measured.purchases > 0
            then {{ cpm_segment('measured.purchases', 'measured.tenure_days', 'measured.lifetime_revenue') }}
        end as cpm_segment,
        case when measured.purchases > 0 then {{ cpm_status('measured.days_since_last_purchase') }} end as cpm_status,
        alive.p_alive,
        case when alive.p_alive is not null then {{ churn_risk_band('alive.p_alive') }} end as churn_risk,
        -- a cart abandoned yesterday, and no purchase since
        case when carts.customer_id is not null
                and (measured.last_purchase_date is null
                     or measured.last_purchase_date < {{ add_days('measured.feature_date', -1) }})
            then 1 else 0
        end as abandoned_cart_yesterday,
        case when subscribed.customer_id is not null then 1 else 0 end as is_subscribed,
        case when subscribable_lines.first_bought_date <= measured.feature_date then 1 else 0 end
            as bought_subscribable_product
    from measured
    left join carts
        on measured.customer_id = carts.customer_id
        and carts.session_date = {{ add_days('measured.feature_date', -1) }}
    left join subscribed
        on measured.customer_id = subscribed.customer_id and measured.feature_date = subscribed.feature_date
    left join alive
        on measured.customer_id = alive.customer_id and measured.feature_date = alive.feature_date
    left join subscribable_lines on measured.customer_id = subscribable_lines.customer_id

)

select * from final
