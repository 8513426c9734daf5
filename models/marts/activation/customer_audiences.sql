-- One row per known customer in an audience on as_of_date (first match by priority, seeds
-- activation_audiences / activation_audience_rules): whom to contact, when, on which consented
-- channel, with which two offers. An entry is a customer in the audience today who was not in it
-- yesterday (both computed from the data); what was sent is kept in the contact log (decision
-- 130). A stable hash of customer and audience holds out var activation_holdout_share of them:
-- held-out customers are never exported, and audience_lift compares them as the log recorded them. Channel: LINE when the customer consented to
-- it, else e-mail when consented, else null (not exported); unknown consent counts only when var
-- activation_unknown_consent_is_consent is true.
-- Today's and yesterday's rows are read from the membership where they are used, not through a
-- shared CTE, which DuckDB would copy whole first (decisions 87, 95).
with audiences as (

    select * from {{ ref('activation_audiences') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

habits as (

    select customer_id, preferred_order_hour, preferred_order_weekday from {{ ref('dim_customers') }}

),

offers as (

    select * from {{ ref('customer_offers') }}

),

today as (

    select * from {{ ref('int_audience_membership') }} where feature_date = {{ as_of_date() }}

),

yesterday as (

    select * from {{ ref('int_audience_membership') }} where feature_date = {{ add_days(as_of_date(), -1) }}

),

tomorrow as (

    select {{ add_days(as_of_date(), 1) }} as next_day

),

final as (

    select
        today.customer_id,
        {{ as_of_date() }} as as_of_date,
        today.audience,
        cast(today.priority as integer) as priority,
        {{ audience_entry('yesterday.audience', 'today.audience') }} as is_entry,
        {{ audience_holdout('today.customer_id', 'today.audience') }} as is_holdout,
        case
            when audiences.timing_rule = 'usual_weekday' and habits.preferred_order_weekday is not null
                then {{ add_days('tomorrow.next_day',
                                 '((habits.preferred_order_weekday - ' ~ iso_weekday('tomorrow.next_day') ~ ' + 7) % 7)') }}
            else tomorrow.next_day
        end as send_date,
        habits.preferred_order_hour as send_hour,
        {{ consent_channel('customers.line_opt_in', 'customers.email_opt_in') }} as channel,
        case when audiences.send_offers then offer_1.product_id end as offer_1_product_id,
        case when audiences.send_offers then offer_2.product_id end as offer_2_product_id,
        case when audiences.send_offers then offer_1.product_name end as offer_1_product_name,
        case when audiences.send_offers then offer_2.product_name end as offer_2_product_name,
        audiences.reason
    from today
    cross join tomorrow
    inner join audiences on today.audience = audiences.audience
    inner join customers on today.customer_id = customers.customer_id
    left join yesterday on today.customer_id = yesterday.customer_id
    left join habits on today.customer_id = habits.customer_id
    left join offers as offer_1 on today.customer_id = offer_1.customer_id and offer_1.offer_rank = 1
    left join offers as offer_2 on today.customer_id = offer_2.customer_id and offer_2.offer_rank = 2

),

with_weekday as (

    select
        final.customer_id,
        final.as_of_date,
        final.audience,
        final.priority,
        final.is_entry,
        final.is_holdout,
        final.send_date,
        final.send_hour,
        {{ iso_weekday('final.send_date') }} as send_weekday,
        final.channel,
        final.offer_1_product_id,
        final.offer_2_product_id,
        final.offer_1_product_name,
        final.offer_2_product_name,
        final.reason
    from final

)

select * from with_weekday
