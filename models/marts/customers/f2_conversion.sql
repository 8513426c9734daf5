-- One row per cohort_month x acquisition_channel x first_category, plus roll-up rows where any of
-- the three is `all`: F2転換率 (second-purchase conversion) within N days of the first purchase,
-- censoring-aware. A customer is eligible for N only if first_purchase_date <= as_of - N; converted
-- if eligible and the second purchase came within N days. Definitions: domain.md "F2".
{%- set horizons = var('f2_horizons_days') %}
{%- set dims = ['cohort_month', 'acquisition_channel', 'first_category'] %}
with customers as (

    select
        cohort_month,
        acquisition_channel,
        first_category,
        first_purchase_date,
        days_to_second_purchase
    from {{ ref('int_customer_purchases') }}
    where first_purchase_date is not null

),

grouped as (

{%- set measures %}
        cast(count(*) as bigint) as count_first_buyers,
        {{ conversion_counts('first_purchase_date', 'days_to_second_purchase', horizons) }},
        cast(sum(case when days_to_second_purchase is not null then 1 else 0 end) as bigint) as count_second_purchases,
        cast({{ percentile_cont('days_to_second_purchase', 0.5) }} as double) as median_days_to_second_purchase
{%- endset %}
{{ roll_up_to_all(dims, measures, 'customers') }}

),

final as (

    select
        cohort_month,
        acquisition_channel,
        first_category,
        count_first_buyers,
        {%- for n in horizons %}
        count_eligible_{{ n }}d,
        count_converted_{{ n }}d,
        {{ safe_divide('count_converted_' ~ n ~ 'd', 'count_eligible_' ~ n ~ 'd') }} as f2_rate_{{ n }}d,
        {%- endfor %}
        count_second_purchases,
        median_days_to_second_purchase
    from grouped

)

select * from final
