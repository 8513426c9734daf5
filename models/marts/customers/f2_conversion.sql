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

{%- for mask in range(8) %}
    {%- set kept = [] %}
    {%- for d in dims %}{% if (mask // (2 ** loop.index0)) % 2 == 0 %}{% do kept.append(d) %}{% endif %}{% endfor %}
    select
        {%- for d in dims %}
        {% if d in kept %}{{ d }}{% else %}'all'{% endif %} as {{ d }},
        {%- endfor %}
        cast(count(*) as bigint) as count_first_buyers,
        {%- for n in horizons %}
        cast(sum(case when first_purchase_date <= {{ add_days(as_of_date(), -n) }} then 1 else 0 end) as bigint) as count_eligible_{{ n }}d,
        cast(sum(case when first_purchase_date <= {{ add_days(as_of_date(), -n) }}
            and days_to_second_purchase <= {{ n }} then 1 else 0 end) as bigint) as count_converted_{{ n }}d,
        {%- endfor %}
        cast(sum(case when days_to_second_purchase is not null then 1 else 0 end) as bigint) as count_second_purchases,
        cast({{ percentile_cont('days_to_second_purchase', 0.5) }} as double) as median_days_to_second_purchase
    from customers
    {% if kept %}group by {{ kept | join(', ') }}{% endif %}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}

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
