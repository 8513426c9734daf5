{#- The activation features and the audience membership, written once and used twice: for today and
    yesterday by int_activation_features / int_audience_membership (what a day computes, decision
    135), and for the whole lookback window by int_reconstructed_features /
    int_reconstructed_membership (read only when a warehouse's contact log is empty). -#}

{#- The per-customer features of every day from window_start to as_of_date (int_activation_features
    describes them). -#}
{% macro activation_features(window_start) %}

with customers as (

    select customer_id, registered_date from {{ ref('stg_shop__customers') }}

),

days as (

    select date_day as feature_date
    from {{ ref('int_calendar_days') }}
    where date_day >= {{ window_start }} and date_day <= {{ as_of_date() }}

),

purchases as (

    select orders.customer_id, orders.order_date, orders.order_total,
        case when deliveries.order_id is null then 1 else 0 end as is_free
    from {{ ref('int_orders_enriched') }} as orders
    left join {{ ref('int_subscription_orders') }} as deliveries
        on orders.order_id = deliveries.order_id
    where orders.is_purchase and orders.customer_id is not null

),

-- the window's days after a known customer's abandoned cart
carts_yesterday as (

    select distinct customer_id, {{ add_days('session_date', 1) }} as feature_date
    from {{ ref('int_abandoned_cart_products') }}
    where {{ add_days('session_date', 1) }} >= {{ window_start }}
        and {{ add_days('session_date', 1) }} <= {{ as_of_date() }}

),

subscriptions as (

    select customer_id, product_id, started_date, cancelled_date from {{ ref('int_subscriptions') }}

),

subscribable_lines as (

    select purchase_lines.customer_id, min(purchase_lines.order_date) as first_bought_date
    from {{ ref('int_purchase_lines') }} as purchase_lines
    where purchase_lines.product_id in (select subscriptions.product_id from subscriptions)
    group by purchase_lines.customer_id

),

fit as (

    select r, alpha, a, b, churn_score_model, recency_logit_intercept, recency_logit_slope
    from {{ source('model_fits', 'clv_fits') }}
    where fit = 'full' and status = 'fitted' and as_of_date = {{ as_of_date() }}

),

{#- A customer's purchase history changes inside the window only on a purchase day and on the day a
    purchase leaves the loyalty window (its date + loyalty_window_days); the cart and subscription
    flags only on the day after a cart, the day after that, a subscription's start and
    cancellation, and the first purchase of a subscribable product. Between two such days every count, date, sum and flag below is constant, so it is
    computed once per segment (from all purchases up to the segment's first day) and spread over
    the segment's days, instead of joining every customer x day to all earlier purchases
    (customers x 61 days x purchases: the model's cost at 1M customers, decision 82) or to the
    carts and subscriptions (a hash join over the 61M-row grid at 1M customers, decision 86). -#}
{%- set loyalty_days = var('loyalty_window_days') %}

-- is_free_repeat: a purchase day after the customer's first with a purchase that is not a 定期
-- delivery: the BG/NBD's repeat days (int_clv_inputs' rule, so P(alive) here is the fit's)
purchase_days as (

    select
        customer_id,
        order_date,
        purchases,
        revenue,
        case when has_free = 1 and order_date > min(order_date) over (partition by customer_id) then 1 else 0 end
            as is_free_repeat
    from (
        select customer_id, order_date, count(*) as purchases, sum(order_total) as revenue, max(is_free) as has_free
        from purchases
        group by customer_id, order_date
    ) as by_day

),

change_dates as (

    select customer_id, {{ window_start }} as valid_from from customers
    union
    select customer_id, order_date as valid_from
    from purchase_days
    where order_date > {{ window_start }} and order_date <= {{ as_of_date() }}
    union
    select customer_id, {{ add_days('order_date', loyalty_days) }} as valid_from
    from purchase_days
    where {{ add_days('order_date', loyalty_days) }} > {{ window_start }}
        and {{ add_days('order_date', loyalty_days) }} <= {{ as_of_date() }}
    union
    select customer_id, feature_date as valid_from
    from carts_yesterday
    where feature_date > {{ window_start }}
    union
    select customer_id, {{ add_days('feature_date', 1) }} as valid_from
    from carts_yesterday
    where {{ add_days('feature_date', 1) }} <= {{ as_of_date() }}
    union
    select customer_id, started_date as valid_from
    from subscriptions
    where started_date > {{ window_start }} and started_date <= {{ as_of_date() }}
    union
    select customer_id, cancelled_date as valid_from
    from subscriptions
    where cancelled_date > {{ window_start }} and cancelled_date <= {{ as_of_date() }}
    union
    select customer_id, first_bought_date as valid_from
    from subscribable_lines
    where first_bought_date > {{ window_start }} and first_bought_date <= {{ as_of_date() }}

),

segments as (

    select
        change_dates.customer_id,
        customers.registered_date,
        change_dates.valid_from,
        coalesce(
            lead(change_dates.valid_from) over (partition by change_dates.customer_id order by change_dates.valid_from),
            {{ add_days(as_of_date(), 1) }}
        ) as valid_to
    from change_dates
    inner join customers on change_dates.customer_id = customers.customer_id

),

-- a segment starts on each day after a cart, so the flag holds on the segment's first day or not at all
segment_carts as (

    select segments.customer_id, segments.valid_from
    from segments
    inner join carts_yesterday
        on segments.customer_id = carts_yesterday.customer_id
        and segments.valid_from = carts_yesterday.feature_date

),

segment_subscribed as (

    select segments.customer_id, segments.valid_from
    from segments
    inner join subscriptions
        on segments.customer_id = subscriptions.customer_id
        and subscriptions.started_date <= segments.valid_from
        and (subscriptions.cancelled_date is null or subscriptions.cancelled_date > segments.valid_from)
    group by segments.customer_id, segments.valid_from

),

segment_history as (

    select
        segments.customer_id,
        segments.registered_date,
        segments.valid_from,
        segments.valid_to,
        max(case when segment_carts.customer_id is not null then 1 else 0 end) as had_cart_yesterday,
        max(case when segment_subscribed.customer_id is not null then 1 else 0 end) as is_subscribed,
        max(case when subscribable_lines.first_bought_date <= segments.valid_from then 1 else 0 end)
            as bought_subscribable_product,
        coalesce(sum(purchase_days.purchases), 0) as purchases,
        count(purchase_days.order_date) as purchase_days,
        min(purchase_days.order_date) as first_purchase_date,
        max(purchase_days.order_date) as last_purchase_date,
        coalesce(sum(purchase_days.is_free_repeat), 0) as free_repeat_days,
        max(case when purchase_days.is_free_repeat = 1 then purchase_days.order_date end) as last_free_repeat_date,
        sum(purchase_days.revenue) as lifetime_revenue,
        sum(case
            when purchase_days.order_date > {{ add_days('segments.valid_from', - loyalty_days) }}
                then purchase_days.purchases else 0
        end) as purchases_in_loyalty_window
    from segments
    left join purchase_days
        on segments.customer_id = purchase_days.customer_id
        and purchase_days.order_date <= segments.valid_from
    left join segment_carts
        on segments.customer_id = segment_carts.customer_id and segments.valid_from = segment_carts.valid_from
    left join segment_subscribed
        on segments.customer_id = segment_subscribed.customer_id
        and segments.valid_from = segment_subscribed.valid_from
    left join subscribable_lines on segments.customer_id = subscribable_lines.customer_id
    group by segments.customer_id, segments.registered_date, segments.valid_from, segments.valid_to

),

history as (

    select
        segment_history.customer_id,
        days.feature_date,
        segment_history.purchases,
        segment_history.purchase_days,
        segment_history.first_purchase_date,
        segment_history.last_purchase_date,
        segment_history.free_repeat_days,
        segment_history.last_free_repeat_date,
        segment_history.lifetime_revenue,
        segment_history.purchases_in_loyalty_window,
        segment_history.had_cart_yesterday,
        segment_history.is_subscribed,
        segment_history.bought_subscribable_product
    from segment_history
    inner join days
        on days.feature_date >= segment_history.valid_from
        and days.feature_date < segment_history.valid_to
    where segment_history.registered_date is null or segment_history.registered_date <= days.feature_date

),

measured as (

    select
        history.*,
        {{ days_between('history.first_purchase_date', 'history.feature_date') }} as days_since_first_purchase,
        {{ days_between('history.last_purchase_date', 'history.feature_date') }} as days_since_last_purchase,
        {{ days_between('history.first_purchase_date', 'history.last_purchase_date') }} as tenure_days,
        {{ days_between('history.first_purchase_date', 'coalesce(history.last_free_repeat_date, history.first_purchase_date)') }}
            as free_tenure_days
    from history

),

-- P(alive) and the churn score on the row itself (a join back on customer x day cost a second pass over the grid)
scored as (

    select
        measured.*,
        case when measured.purchases > 0 and fit.r is not null then
            {{ bgnbd_p_alive('fit.r', 'fit.alpha', 'fit.a', 'fit.b',
                             'cast(measured.free_repeat_days as double)',
                             'cast(measured.free_tenure_days as double)',
                             'cast(measured.days_since_first_purchase as double)') }}
        end as p_alive,
        -- a subscribed customer's chance of no delivery either (int_subscriber_deliveries, as of
        -- as_of_date), as customer_predictions scores them
        case when measured.purchases > 0 and fit.r is not null then
            {{ fitted_churn_score('fit',
                                  'cast(measured.free_repeat_days as double)',
                                  'cast(measured.free_tenure_days as double)',
                                  'cast(measured.days_since_first_purchase as double)') }}
            * case when measured.is_subscribed = 1 then coalesce(subscriber.p_no_delivery_holdout, 1) else 1 end
        end as churn_score
    from measured
    left join fit on 1 = 1
    left join {{ ref('int_subscriber_deliveries') }} as subscriber
        on measured.customer_id = subscriber.customer_id

),

final as (

    select
        scored.customer_id,
        scored.feature_date,
        cast(scored.purchases as bigint) as purchases,
        scored.days_since_first_purchase,
        scored.days_since_last_purchase,
        cast(scored.purchases_in_loyalty_window as bigint) as purchases_in_loyalty_window,
        cast(coalesce(scored.lifetime_revenue, 0) as {{ money_type() }}) as lifetime_revenue,
        case when scored.purchases > 0
            then {{ loyalty_tier('scored.purchases', 'scored.purchases_in_loyalty_window') }}
        end as loyalty_tier,
        case when scored.purchases > 0
            then {{ cpm_segment('scored.purchases', 'scored.tenure_days', 'scored.lifetime_revenue') }}
        end as cpm_segment,
        case when scored.purchases > 0 then {{ cpm_status('scored.days_since_last_purchase') }} end as cpm_status,
        scored.p_alive,
        case when scored.churn_score is not null then {{ churn_risk_band('scored.churn_score') }} end as churn_risk,
        -- a cart abandoned yesterday, and no purchase since
        case when scored.had_cart_yesterday = 1
                and (scored.last_purchase_date is null
                     or scored.last_purchase_date < {{ add_days('scored.feature_date', -1) }})
            then 1 else 0
        end as abandoned_cart_yesterday,
        scored.is_subscribed,
        scored.bought_subscribable_product
    from scored

)

select * from final
{% endmacro %}

{#- The audience of each customer x day of `features` (a relation with int_activation_features'
    columns): the first rule group by priority whose conditions all hold (int_audience_membership
    describes the rules). -#}
{% macro audience_membership(features) %}
{%- set conditions = [] %}
{%- set groups = [] %}
{%- for row in audience_rule_rows() %}
    {#- one condition: the same feature, operator and value, whichever rule groups list it #}
    {%- set key = [row['feature'], row['operator'], row['value']] %}
    {%- if key not in conditions %}{% do conditions.append(key) %}{% endif %}
    {%- set condition = 'condition_' ~ (conditions.index(key) + 1) %}
    {%- if not groups or groups[-1]['priority'] != row['priority'] or groups[-1]['rule_group'] != row['rule_group'] %}
        {%- do groups.append({'audience': row['audience'], 'priority': row['priority'], 'rule_group': row['rule_group'], 'conditions': []}) %}
    {%- endif %}
    {%- if condition not in groups[-1]['conditions'] %}{% do groups[-1]['conditions'].append(condition) %}{% endif %}
{%- endfor %}

with features as (

    select * from {{ features }}

),

{%- if groups %}

-- each distinct condition of the seed, once (a condition several rule groups list is one column)
held as (

    select
        features.customer_id,
        features.feature_date,
        {%- for feature, operator, value in conditions %}
        {{ audience_condition('features', feature, operator, value) }} as condition_{{ loop.index }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from features

),

-- the first rule group in priority order whose conditions all hold
matched as (

    select
        customer_id,
        feature_date,
        case
            {%- for group in groups %}
            when {{ group['conditions'] | join(' and ') }} then {{ group['priority'] }}  -- {{ group['audience'] }}, rule group {{ group['rule_group'] }}
            {%- endfor %}
        end as priority
    from held

),

final as (

    select
        customer_id,
        feature_date,
        case priority
            {%- for group in groups %}
            {%- if loop.first or group['priority'] != loop.previtem['priority'] %}
            when {{ group['priority'] }} then {{ audience_text_literal(group['audience']) }}
            {%- endif %}
            {%- endfor %}
        end as audience,
        cast(priority as integer) as priority
    from matched
    where priority is not null

)

{%- else %}

-- the seed holds no rule of an audience in activation_audiences: nobody is in an audience
final as (

    select
        customer_id,
        feature_date,
        cast(null as {{ dbt.type_string() }}) as audience,
        cast(null as integer) as priority
    from features
    where 1 = 0

)

{%- endif %}

select * from final
{% endmacro %}
