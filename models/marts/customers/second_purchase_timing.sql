-- One row per cohort_month x acquisition_channel x days bucket (with `all` roll-ups of cohort and
-- channel): how many days after the first purchase the second one came, for customers with a
-- second purchase on or before as_of_date. share_of_second_purchases is within the cohort x channel.
-- Buckets: 0 (same day), 1-7, 8-10, 11-30, 31-60, 61-90, then 30-day steps to 331-360, and 361+.
{%- set dims = ['cohort_month', 'acquisition_channel'] %}
with customers as (

    select cohort_month, acquisition_channel, days_to_second_purchase as d
    from {{ ref('int_customer_purchases') }}
    where days_to_second_purchase is not null

),

bucketed as (

    select
        cohort_month,
        acquisition_channel,
        case
            when d = 0 then '0'
            when d <= 7 then '1-7'
            when d <= 10 then '8-10'
            when d <= 30 then '11-30'
            when d <= 60 then '31-60'
            when d <= 90 then '61-90'
            {%- for lo in range(91, 361, 30) %}
            when d <= {{ lo + 29 }} then '{{ lo }}-{{ lo + 29 }}'
            {%- endfor %}
            else '361+'
        end as days_bucket,
        case
            when d = 0 then 0
            when d <= 7 then 1
            when d <= 10 then 2
            when d <= 30 then 3
            when d <= 60 then 4
            when d <= 90 then 5
            {%- for lo in range(91, 361, 30) %}
            when d <= {{ lo + 29 }} then {{ 6 + loop.index0 }}
            {%- endfor %}
            else 15
        end as bucket_order
    from customers

),

grouped as (

{{ roll_up_to_all(dims, 'cast(count(*) as bigint) as count_customers', 'bucketed', by=['days_bucket', 'bucket_order']) }}

),

final as (

    select
        cohort_month,
        acquisition_channel,
        days_bucket,
        bucket_order,
        count_customers,
        cast(count_customers as double)
            / sum(count_customers) over (partition by cohort_month, acquisition_channel) as share_of_second_purchases
    from grouped

)

select * from final
