-- One row per audience x entry month x window (7, 30 days): what contacting an audience earned,
-- from orders alone. The entries are the contact log's (contact_log: what each day's exports held
-- when they were made, contacted and held out), never recomputed from today's data, so a late
-- file or a refit does not change who was contacted. conversion = share with a purchase in the
-- window days after the entry day, revenue = purchase revenue in them per entry. Every logged
-- entry whose window has fully passed by as_of_date counts.
-- lift = conversion_contacted - conversion_holdout with a 95% interval by Newcombe's hybrid score
-- method (Wilson intervals of each side: proper at 0% and 100%; null while a side is empty).
with purchases as (

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

    select customer_id, audience, entry_date, is_holdout
    from {{ ref('contact_log') }}
    where entry_date <= {{ as_of_date() }}

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
        {{ newcombe_low('conversion_contacted', 'count_contacted', 'conversion_holdout', 'count_holdout') }}
            as lift_ci_low,
        {{ newcombe_high('conversion_contacted', 'count_contacted', 'conversion_holdout', 'count_holdout') }}
            as lift_ci_high,
        cast({{ safe_divide('revenue_contacted', 'count_contacted') }} as {{ money_type() }}) as revenue_per_contacted,
        cast({{ safe_divide('revenue_holdout', 'count_holdout') }} as {{ money_type() }}) as revenue_per_holdout
    from rates

)

select * from final
