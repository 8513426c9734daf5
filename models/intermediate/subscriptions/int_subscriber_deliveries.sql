-- One row per customer with an active 定期 subscription whose group has an sBG fit of this
-- as_of_date: the deliveries expected over the prediction horizons from the subscription's survival
-- and cycle (domain.md "Predicted lifetime value and churn": a subscriber is a contract).
--   fit            the subscription's acquisition_channel x product_id x offer_code fit, else the
--                  most specific fitted group that covers it (a dimension `all`), status fitted or
--                  geometric (model_fits.retention_fits)
--   due dates      the next delivery is due last_delivery_date + interval_days, or the day after
--                  as_of_date when that has passed; then every interval_days
--   survival       having received d deliveries (survived d - 1 renewals), the k-th next delivery
--                  comes with P = prod_{j=1..k} (beta + d + j - 2) / (alpha + beta + d + j - 2), the
--                  sBG's conditional survival S(d + k - 1) / S(d - 1); geometric: (beta / (alpha +
--                  beta))^k
--   expected_deliveries_<h>  sum of P over the deliveries due within h days after as_of_date
--   p_no_delivery_holdout    P(no delivery within clv_holdout_days): 1 - P of the first due one
--                  when it falls inside, else 1; over several subscriptions, their product
-- Sums are exact (decimal): a parallel float sum would differ in the last digits between runs.
{%- set horizons = {'30d': 30, '90d': 90, '365d': 365, 'horizon': (var('ltv_horizon_years') * 365) | round | int, 'holdout': var('clv_holdout_days')} %}
{%- set longest = horizons.values() | max %}
with subscriptions as (

    select * from {{ ref('int_subscriptions') }}
    where status = 'active' and count_deliveries >= 1 and last_delivery_date is not null

),

acquisition as (

    select * from {{ ref('int_customer_acquisition') }}

),

fits as (

    {{ usable_retention_fits() }}

),

grouped as (

    select
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.product_id,
        subscriptions.offer_code,
        coalesce(acquisition.acquisition_channel, 'unknown') as acquisition_channel,
        subscriptions.interval_days,
        subscriptions.count_deliveries,
        subscriptions.delivery_revenue,
        case
            when {{ add_days('subscriptions.last_delivery_date', 'cast(subscriptions.interval_days as integer)') }} > {{ as_of_date() }}
                then {{ add_days('subscriptions.last_delivery_date', 'cast(subscriptions.interval_days as integer)') }}
            else {{ add_days(as_of_date(), 1) }}
        end as next_due_date
    from subscriptions
    left join acquisition
        on subscriptions.customer_id = acquisition.customer_id

),

matched as (

    select
        grouped.*,
        fits.status as fit_status,
        fits.alpha,
        fits.beta,
        row_number() over (
            partition by grouped.subscription_id
            order by
                case when fits.acquisition_channel = 'all' then 0 else 4 end
                + case when fits.product_id = 'all' then 0 else 2 end
                + case when fits.offer_code = 'all' then 0 else 1 end desc
        ) as fit_rank
    from grouped
    inner join fits
        on fits.acquisition_channel in (grouped.acquisition_channel, 'all')
        and fits.product_id in (grouped.product_id, 'all')
        and fits.offer_code in (grouped.offer_code, 'all')

),

steps as (

    select
        matched.subscription_id,
        matched.customer_id,
        matched.count_deliveries,
        matched.delivery_revenue,
        numbers.n as k,
        {{ days_between(as_of_date(), add_days('matched.next_due_date', '(numbers.n - 1) * cast(matched.interval_days as integer)')) }} as days_ahead,
        case
            when matched.fit_status = 'geometric' then ln(matched.beta / (matched.alpha + matched.beta))
            else ln((matched.beta + matched.count_deliveries + numbers.n - 2)
                    / (matched.alpha + matched.beta + matched.count_deliveries + numbers.n - 2))
        end as log_term
    from matched
    inner join ({{ number_series(3) }}) as numbers
        on numbers.n between 1 and cast(ceil({{ longest }} / cast(matched.interval_days as double)) as integer) + 1
    where matched.fit_rank = 1

),

survival as (

    select
        steps.*,
        exp(cast(sum(cast(log_term as decimal(38, 18))) over (
            partition by subscription_id order by k rows between unbounded preceding and current row
        ) as double)) as p_delivered
    from steps

),

per_subscription as (

    select
        subscription_id,
        customer_id,
        {%- for name, days in horizons.items() %}
        {{ exact_sum('case when days_ahead <= ' ~ days ~ ' then p_delivered else 0 end') }} as expected_deliveries_{{ name }},
        {%- endfor %}
        max(case when k = 1 and days_ahead <= {{ var('clv_holdout_days') }} then p_delivered else 0 end)
            as p_next_delivery_holdout,
        max(cast(delivery_revenue as double) / count_deliveries) as value_per_delivery,
        min(case when k = 1 then {{ add_days(as_of_date(), 'cast(days_ahead as integer)') }} end) as next_due_date
    from survival
    group by subscription_id, customer_id

),

final as (

    select
        customer_id,
        {%- for name in horizons %}
        {{ exact_sum('expected_deliveries_' ~ name) }} as expected_deliveries_{{ name }},
        {%- endfor %}
        {{ exact_sum('expected_deliveries_horizon * value_per_delivery') }} as expected_delivery_value_horizon,
        cast(exp({{ exact_sum('ln(greatest(1 - p_next_delivery_holdout, 1e-12))') }}) as double) as p_no_delivery_holdout,
        min(next_due_date) as next_due_date,
        cast(count(*) as bigint) as count_active_subscriptions
    from per_subscription
    group by customer_id

)

select * from final
