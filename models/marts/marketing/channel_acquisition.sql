-- One row per acquisition_channel x cohort_month (month of the first purchase; for spend, the
-- spend month): what a channel cost, what its new customers brought back, and when it paid back.
--   cac = spend / new customers (null with no new customers; 0 with no spend)
--   revenue / gross profit per customer at N days: purchases within N days of the first purchase
--     (days <= N), over the count_eligible_Nd customers whose first purchase is >= N days before
--     as_of_date (no right-censoring)
--   ltv_to_cac_365d = 365-day gross profit per customer / cac (null when cac is 0 or null)
--   payback_days = smallest d at which the average cumulative gross profit per customer, over the
--     customers whose first purchase is >= d days before as_of_date, reaches cac (null if never)
--   limit_cpo (限界CPO) = 365-day gross profit per customer: the most a new customer is worth paying
-- Definitions: domain.md "Channel acquisition cost vs LTV".
{%- set horizons = var('ltv_horizons_days') %}
with customers as (

    select customer_id, acquisition_channel, cohort_month, first_purchase_date, days_to_second_purchase
    from {{ ref('int_customer_purchases') }}
    where first_purchase_date is not null

),

purchases as (

    select
        customers.acquisition_channel,
        customers.cohort_month,
        customers.customer_id,
        customers.first_purchase_date,
        {{ days_between('customers.first_purchase_date', 'orders.order_date') }} as days_since_first,
        orders.order_total,
        orders.gross_profit
    from {{ ref('int_orders_enriched') }} as orders
    inner join customers
        on orders.customer_id = customers.customer_id
    where orders.is_purchase

),

spend as (

    select
        channel as acquisition_channel,
        {{ month_text('spend_date') }} as cohort_month,
        sum(spend) as spend
    from {{ ref('int_spend_daily') }}
    group by 1, 2

),

cohorts as (

    select
        acquisition_channel,
        cohort_month,
        cast(count(*) as bigint) as count_new_customers,
        {%- for n in horizons %}
        cast(sum(case when {{ observed_for('first_purchase_date', n) }} then 1 else 0 end) as bigint) as count_eligible_{{ n }}d,
        {%- endfor %}
        {{ conversion_counts('first_purchase_date', 'days_to_second_purchase', [90], prefix='f2_') }}
    from customers
    group by 1, 2

),

realised as (

    select
        acquisition_channel,
        cohort_month,
        {%- for n in horizons %}
        sum(case when {{ observed_for('first_purchase_date', n) }} and days_since_first <= {{ n }}
            then order_total else 0 end) as revenue_{{ n }}d,
        sum(case when {{ observed_for('first_purchase_date', n) }} and days_since_first <= {{ n }}
            then gross_profit else 0 end) as gross_profit_{{ n }}d{% if not loop.last %},{% endif %}
        {%- endfor %}
    from purchases
    group by 1, 2

),

keys as (

    select acquisition_channel, cohort_month from cohorts
    union
    select acquisition_channel, cohort_month from spend

),

joined as (

    select
        keys.acquisition_channel,
        keys.cohort_month,
        cast(coalesce(spend.spend, 0) as {{ money_type() }}) as spend,
        coalesce(cohorts.count_new_customers, 0) as count_new_customers,
        case
            when coalesce(cohorts.count_new_customers, 0) = 0 then null
            else cast(coalesce(spend.spend, 0) as double) / cohorts.count_new_customers
        end as cac,
        {%- for n in horizons %}
        {{ safe_divide('realised.revenue_' ~ n ~ 'd', 'cohorts.count_eligible_' ~ n ~ 'd') }} as revenue_per_customer_{{ n }}d,
        {{ safe_divide('realised.gross_profit_' ~ n ~ 'd', 'cohorts.count_eligible_' ~ n ~ 'd') }} as gross_profit_per_customer_{{ n }}d,
        coalesce(cohorts.count_eligible_{{ n }}d, 0) as count_eligible_{{ n }}d,
        {%- endfor %}
        {{ safe_divide('cohorts.count_f2_converted_90d', 'cohorts.count_f2_eligible_90d') }} as f2_rate_90d
    from keys
    left join cohorts
        on keys.acquisition_channel = cohorts.acquisition_channel
        and keys.cohort_month = cohorts.cohort_month
    left join spend
        on keys.acquisition_channel = spend.acquisition_channel
        and keys.cohort_month = spend.cohort_month
    left join realised
        on keys.acquisition_channel = realised.acquisition_channel
        and keys.cohort_month = realised.cohort_month

),

-- payback: the average cumulative gross profit per eligible customer is a step function of d.
-- It changes only where a purchase happens (d = days since first, + gross profit) or where a
-- customer stops being eligible (d = days from first purchase to as_of + 1: that customer and all
-- their gross profit leave the average). Running sums over those events give it exactly.
customer_totals as (

    select
        acquisition_channel,
        cohort_month,
        customer_id,
        max({{ days_between('first_purchase_date', as_of_date()) }}) + 1 as leaves_at_day,
        sum(gross_profit) as total_gross_profit
    from purchases
    group by 1, 2, 3

),

payback_events as (

    select acquisition_channel, cohort_month, days_since_first as d, gross_profit as delta_gross_profit, 0 as delta_customers
    from purchases
    union all
    select acquisition_channel, cohort_month, leaves_at_day as d, - total_gross_profit as delta_gross_profit, -1 as delta_customers
    from customer_totals

),

payback_days_summed as (

    select acquisition_channel, cohort_month, d, sum(delta_gross_profit) as delta_gross_profit, sum(delta_customers) as delta_customers
    from payback_events
    group by 1, 2, 3

),

payback_curve as (

    select
        payback_days_summed.acquisition_channel,
        payback_days_summed.cohort_month,
        payback_days_summed.d,
        sum(payback_days_summed.delta_gross_profit) over (
            partition by payback_days_summed.acquisition_channel, payback_days_summed.cohort_month
            order by payback_days_summed.d rows between unbounded preceding and current row
        ) as cumulative_gross_profit,
        cohorts.count_new_customers + sum(payback_days_summed.delta_customers) over (
            partition by payback_days_summed.acquisition_channel, payback_days_summed.cohort_month
            order by payback_days_summed.d rows between unbounded preceding and current row
        ) as eligible_customers
    from payback_days_summed
    inner join cohorts
        on payback_days_summed.acquisition_channel = cohorts.acquisition_channel
        and payback_days_summed.cohort_month = cohorts.cohort_month

),

payback as (

    select
        payback_curve.acquisition_channel,
        payback_curve.cohort_month,
        min(payback_curve.d) as payback_days
    from payback_curve
    inner join joined
        on payback_curve.acquisition_channel = joined.acquisition_channel
        and payback_curve.cohort_month = joined.cohort_month
    where payback_curve.eligible_customers > 0
        and joined.cac is not null
        and cast(payback_curve.cumulative_gross_profit as double) / payback_curve.eligible_customers >= joined.cac
    group by 1, 2

),

final as (

    select
        joined.acquisition_channel,
        joined.cohort_month,
        joined.spend,
        joined.count_new_customers,
        joined.cac,
        {%- for n in horizons %}
        joined.revenue_per_customer_{{ n }}d,
        joined.gross_profit_per_customer_{{ n }}d,
        joined.count_eligible_{{ n }}d,
        {%- endfor %}
        case when joined.cac > 0 then joined.gross_profit_per_customer_365d / joined.cac end as ltv_to_cac_365d,
        cast(payback.payback_days as bigint) as payback_days,
        joined.f2_rate_90d,
        joined.gross_profit_per_customer_365d as limit_cpo
    from joined
    left join payback
        on joined.acquisition_channel = payback.acquisition_channel
        and joined.cohort_month = payback.cohort_month

)

select * from final
