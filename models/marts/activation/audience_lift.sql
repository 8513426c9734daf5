-- One row per audience x entry month x window (7, 30 days): what contacting an audience earned,
-- from orders alone. Entries of every day of the activation window (int_audience_membership: in
-- the audience that day, not the day before) that have a consented channel are split by the
-- stable holdout hash into contacted and held out; conversion = share with a purchase in the
-- window days after the entry day, revenue = purchase revenue in them per entry. Only entries
-- whose window has fully passed by as_of_date count. lift = conversion_contacted -
-- conversion_holdout with a 95% normal-approximation interval (null while a side is empty).
-- Consent is today's (the contract keeps no consent history).
-- The membership (customers x days of the window, 38M rows at 1M customers) is read where it is
-- used, twice, not through a shared CTE, which DuckDB would copy first (decisions 87, 95).
with customers as (

    select customer_id, line_opt_in, email_opt_in from {{ ref('stg_shop__customers') }}

),

purchases as (

    select customer_id, order_date, order_total
    from {{ ref('fct_orders') }}
    where is_purchase and customer_id is not null

),

windows as (

    select 7 as window_days
    union all
    select 30 as window_days

),

entries as (

    select
        today.customer_id,
        today.audience,
        today.feature_date as entry_date,
        {{ stable_bucket("today.customer_id || '|' || today.audience") }}
            < {{ var('activation_holdout_share') }} * 10000 as is_holdout
    from {{ ref('int_audience_membership') }} as today
    left join {{ ref('int_audience_membership') }} as yesterday
        on today.customer_id = yesterday.customer_id
        and yesterday.feature_date = {{ add_days('today.feature_date', -1) }}
    inner join customers on today.customer_id = customers.customer_id
    where (yesterday.audience is null or yesterday.audience != today.audience)
        -- the first day of the window has no day before it to compare with
        and today.feature_date > {{ add_days(as_of_date(), - var('activation_lookback_days')) }}
        and {{ consent_channel('customers.line_opt_in', 'customers.email_opt_in') }} is not null

),

outcomes as (

    select
        entries.customer_id,
        entries.audience,
        entries.entry_date,
        entries.is_holdout,
        windows.window_days,
        max(case when purchases.order_date is not null then 1 else 0 end) as converted,
        coalesce(sum(purchases.order_total), 0) as revenue
    from entries
    cross join windows
    left join purchases
        on entries.customer_id = purchases.customer_id
        and purchases.order_date > entries.entry_date
        and purchases.order_date <= {{ add_days('entries.entry_date', 'windows.window_days') }}
    where {{ add_days('entries.entry_date', 'windows.window_days') }} <= {{ as_of_date() }}
    group by entries.customer_id, entries.audience, entries.entry_date, entries.is_holdout, windows.window_days

),

grouped as (

    select
        audience,
        {{ month_text('entry_date') }} as entry_month,
        window_days,
        sum(case when not is_holdout then 1 else 0 end) as count_contacted,
        sum(case when is_holdout then 1 else 0 end) as count_holdout,
        sum(case when not is_holdout then converted else 0 end) as converted_contacted,
        sum(case when is_holdout then converted else 0 end) as converted_holdout,
        sum(case when not is_holdout then revenue else 0 end) as revenue_contacted,
        sum(case when is_holdout then revenue else 0 end) as revenue_holdout
    from outcomes
    group by audience, {{ month_text('entry_date') }}, window_days

),

rates as (

    select
        grouped.*,
        {{ safe_divide('cast(converted_contacted as double)', 'count_contacted') }} as conversion_contacted,
        {{ safe_divide('cast(converted_holdout as double)', 'count_holdout') }} as conversion_holdout
    from grouped

),

final as (

    select
        audience,
        entry_month,
        cast(window_days as integer) as window_days,
        cast(count_contacted as bigint) as count_contacted,
        cast(count_holdout as bigint) as count_holdout,
        conversion_contacted,
        conversion_holdout,
        conversion_contacted - conversion_holdout as lift,
        conversion_contacted - conversion_holdout
            - 1.96 * sqrt(conversion_contacted * (1 - conversion_contacted) / nullif(count_contacted, 0)
                          + conversion_holdout * (1 - conversion_holdout) / nullif(count_holdout, 0)) as lift_ci_low,
        conversion_contacted - conversion_holdout
            + 1.96 * sqrt(conversion_contacted * (1 - conversion_contacted) / nullif(count_contacted, 0)
                          + conversion_holdout * (1 - conversion_holdout) / nullif(count_holdout, 0)) as lift_ci_high,
        cast({{ safe_divide('revenue_contacted', 'count_contacted') }} as {{ money_type() }}) as revenue_per_contacted,
        cast({{ safe_divide('revenue_holdout', 'count_holdout') }} as {{ money_type() }}) as revenue_per_holdout
    from rates

)

select * from final
