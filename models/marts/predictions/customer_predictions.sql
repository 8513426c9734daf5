-- One row per customer with a purchase on or before as_of_date, when the `full` fit of this
-- as_of_date is `fitted`; empty otherwise (clv_model says why). Scores come from the Python fit
-- (source model_fits.clv_scores); CLV and dates are derived here. A customer with an active 定期
-- subscription (is_subscriber, int_subscriber_deliveries) is a contract: their expected purchases
-- are the deliveries expected from the subscription's survival and cycle plus the other purchases
-- the BG/NBD expects (fitted on purchases that are not deliveries); their CLV values the deliveries
-- at the subscription's value per delivery; their churn score is the chance of neither a delivery
-- nor another purchase within clv_holdout_days, and their next purchase date the next due delivery.
with inputs as (

    select * from {{ ref('int_clv_inputs') }}

),

fits as (

    select * from {{ source('model_fits', 'clv_fits') }}
    where fit = 'full' and status = 'fitted' and as_of_date = {{ as_of_date() }}

),

scores as (

    select * from {{ source('model_fits', 'clv_scores') }}
    where fit = 'full' and as_of_date = {{ as_of_date() }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

subscribers as (

    select * from {{ ref('int_subscriber_deliveries') }}

),

-- the shop's gross margin over every purchase known by as_of_date
margin as (

    select
        {{ safe_divide('sum(gross_profit)', 'sum(order_total)') }} as gross_margin
    from orders
    where is_purchase

),

scored as (

    select
        inputs.customer_id,
        inputs.as_of_date,
        inputs.x as repeat_purchase_days,
        inputs.t_x as days_first_to_last,
        inputs.big_t as days_since_first,
        scores.p_alive,
        scores.churn_score * coalesce(subscribers.p_no_delivery_holdout, 1) as churn_score,
        scores.expected_purchases_30d + coalesce(subscribers.expected_deliveries_30d, 0) as expected_purchases_30d,
        scores.expected_purchases_90d + coalesce(subscribers.expected_deliveries_90d, 0) as expected_purchases_90d,
        scores.expected_purchases_365d + coalesce(subscribers.expected_deliveries_365d, 0) as expected_purchases_365d,
        scores.expected_order_value,
        scores.expected_purchases_horizon * scores.expected_order_value
            + coalesce(subscribers.expected_delivery_value_horizon, 0) as predicted_clv_value,
        scores.expected_days_between_purchases,
        subscribers.next_due_date,
        subscribers.customer_id is not null as is_subscriber
    from inputs
    inner join scores
        on inputs.customer_id = scores.customer_id
    left join subscribers
        on inputs.customer_id = subscribers.customer_id
    cross join (select count(*) as n from fits) as fitted
    where fitted.n = 1

),

final as (

    select
        scored.customer_id,
        scored.as_of_date,
        scored.repeat_purchase_days,
        scored.days_first_to_last,
        scored.days_since_first,
        scored.p_alive,
        scored.expected_purchases_30d,
        scored.expected_purchases_90d,
        scored.expected_purchases_365d,
        cast(scored.expected_order_value as {{ money_type() }}) as expected_order_value,
        cast(scored.predicted_clv_value as {{ money_type() }}) as predicted_clv,
        cast(scored.predicted_clv_value * margin.gross_margin as {{ money_type() }}) as predicted_gross_profit_clv,
        case
            when scored.is_subscriber then scored.next_due_date
            when 1 - scored.churn_score >= {{ var('clv_churn_high_below') }}
                then {{ add_days('scored.as_of_date', 'cast(ceil(scored.expected_days_between_purchases) as integer)') }}
        end as expected_next_purchase_date,
        scored.churn_score,
        {{ churn_risk_band('scored.churn_score') }} as churn_risk,
        scored.is_subscriber
    from scored
    cross join margin

)

select * from final
