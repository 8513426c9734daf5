-- One row per start cohort_month x acquisition_channel x product_id x offer_code (each also `all`)
-- x delivery_number (1 .. 12, and 13 meaning 13回目以降): n回目継続率 with censoring, and the sBG
-- projection (domain.md "定期 subscription").
--   count_started   subscriptions of the group (each counted once per row: the `all` rows are
--                   their own aggregates, never sums of other rows)
--   count_eligible  those old enough to have reached delivery n (fct_subscriptions.eligible_deliveries >= n)
--   count_reached   eligible ones that received delivery n
--   retention_rate  count_reached / count_eligible (null when none is old enough)
--   churn_rate_from_previous  1 - retention_rate(n) / retention_rate(n - 1) (解約率 of the cycle)
--   projected_retention_rate  S(n - 1) of the shifted-beta-geometric fit (orchestration/predict/sbg.py)
--                   of the group's acquisition_channel x product_id x offer_code pooled over start
--                   cohorts (int_subscription_projections, from model_fits.retention_fits); null
--                   when that group has no fit (too few subscriptions, or no fit run yet)
--   is_projected    no subscription of the row is old enough for n and a projection exists
{%- set dims = ['cohort_month', 'acquisition_channel', 'product_id', 'offer_code'] %}
with subscriptions as (

    select
        cohort_month,
        acquisition_channel,
        product_id,
        offer_code,
        count_deliveries,
        eligible_deliveries
    from {{ ref('fct_subscriptions') }}

),

projections as (

    select * from {{ ref('int_subscription_projections') }}

),

delivery_numbers as (

    select n as delivery_number from ({{ number_series(2) }}) as numbers where n between 1 and 13

),

expanded as (

    select
        subscriptions.*,
        delivery_numbers.delivery_number,
        case when subscriptions.eligible_deliveries >= delivery_numbers.delivery_number then 1 else 0 end as is_eligible,
        case when subscriptions.eligible_deliveries >= delivery_numbers.delivery_number
            and subscriptions.count_deliveries >= delivery_numbers.delivery_number then 1 else 0 end as has_reached
    from subscriptions
    cross join delivery_numbers

),

grouped as (

{%- set measures %}
        cast(count(*) as bigint) as count_started,
        cast(sum(is_eligible) as bigint) as count_eligible,
        cast(sum(has_reached) as bigint) as count_reached
{%- endset %}
{{ roll_up_to_all(dims, measures, 'expanded', by=['delivery_number']) }}

),

rated as (

    select
        grouped.*,
        {{ safe_divide('grouped.count_reached', 'grouped.count_eligible') }} as retention_rate
    from grouped

),

final as (

    select
        rated.cohort_month,
        rated.acquisition_channel,
        rated.product_id,
        rated.offer_code,
        cast(rated.delivery_number as integer) as delivery_number,
        rated.count_started,
        rated.count_eligible,
        rated.count_reached,
        cast(rated.retention_rate as double) as retention_rate,
        cast(case
            when rated.delivery_number > 1 then 1 - {{ safe_divide('rated.retention_rate', 'lag(rated.retention_rate) over (partition by rated.cohort_month, rated.acquisition_channel, rated.product_id, rated.offer_code order by rated.delivery_number)') }}
        end as double) as churn_rate_from_previous,
        cast(projections.projected_retention_rate as double) as projected_retention_rate,
        coalesce(rated.count_eligible = 0 and projections.projected_retention_rate is not null, false) as is_projected
    from rated
    left join projections
        on rated.acquisition_channel = projections.acquisition_channel
        and rated.product_id = projections.product_id
        and rated.offer_code = projections.offer_code
        and rated.delivery_number = projections.delivery_number

)

select * from final
