-- One row per customer per month end on or after their first purchase and before as_of_date, plus
-- one row dated as_of_date (the month so far): the CPM (customer portfolio management, やずや)
-- state at that date. Purchases count up to and including the row date. Definitions: domain.md "CPM".
with purchases as (

    select customer_id, order_date, order_total
    from {{ ref('int_orders_enriched') }}
    where is_purchase and customer_id is not null

),

states as (

    select * from {{ ref('cpm_states') }}

),

bounds as (

    select {{ dbt.date_trunc('month', 'min(order_date)') }} as first_month
    from purchases

),

numbers as (

    {{ number_series(4) }}

),

-- every month end from the first purchase month up to (not including) as_of_date, then as_of_date
month_ends as (

    select cast({{ dbt.last_day(dbt.dateadd('month', 'numbers.n', 'bounds.first_month'), 'month') }} as date) as row_date
    from bounds
    cross join numbers
    where numbers.n <= {{ dbt.datediff('bounds.first_month', as_of_date(), 'month') }}

),

row_dates as (

    select row_date from month_ends where row_date < {{ as_of_date() }}
    union all
    select {{ as_of_date() }} as row_date

),

first_purchases as (

    select customer_id, min(order_date) as first_purchase_date
    from purchases
    group by customer_id

),

spine as (

    select
        first_purchases.customer_id,
        first_purchases.first_purchase_date,
        row_dates.row_date
    from first_purchases
    inner join row_dates
        on row_dates.row_date >= first_purchases.first_purchase_date

),

-- each purchase falls into the first row date on or after it: its month end, or as_of_date
bucketed as (

    select
        customer_id,
        case
            when cast({{ dbt.last_day('order_date', 'month') }} as date) < {{ as_of_date() }}
                then cast({{ dbt.last_day('order_date', 'month') }} as date)
            else {{ as_of_date() }}
        end as row_date,
        count(*) as count_purchases,
        sum(order_total) as revenue,
        max(order_date) as last_purchase_date
    from purchases
    group by 1, 2

),

cumulative as (

    select
        spine.customer_id,
        spine.row_date,
        spine.first_purchase_date,
        cast(sum(coalesce(bucketed.count_purchases, 0)) over (
            partition by spine.customer_id order by spine.row_date rows between unbounded preceding and current row
        ) as bigint) as count_purchases_to_date,
        cast(sum(coalesce(bucketed.revenue, 0)) over (
            partition by spine.customer_id order by spine.row_date rows between unbounded preceding and current row
        ) as decimal(18, 2)) as revenue_to_date,
        max(bucketed.last_purchase_date) over (
            partition by spine.customer_id order by spine.row_date rows between unbounded preceding and current row
        ) as last_purchase_date
    from spine
    left join bucketed
        on spine.customer_id = bucketed.customer_id
        and spine.row_date = bucketed.row_date

),

measured as (

    select
        *,
        {{ days_between('first_purchase_date', 'last_purchase_date') }} as tenure_days,
        {{ days_between('last_purchase_date', 'row_date') }} as lapse_days
    from cumulative

),

classified as (

    select
        *,
        case
            when count_purchases_to_date = 1 then 'first'
            when tenure_days < {{ var('cpm_toddler_tenure_days') }} then 'toddler'
            when revenue_to_date < {{ var('cpm_steady_revenue') }} then 'steady'
            when tenure_days < {{ var('cpm_trendy_tenure_days') }} then 'trendy'
            else 'loyal'
        end as cpm_segment,
        case when lapse_days < {{ var('cpm_lapse_days') }} then 'active' else 'lapsed' end as cpm_status
    from measured

),

final as (

    select
        classified.customer_id,
        classified.row_date as month_end_date,
        classified.row_date = {{ as_of_date() }} as is_as_of_row,
        classified.first_purchase_date,
        classified.last_purchase_date,
        classified.count_purchases_to_date,
        classified.revenue_to_date,
        classified.tenure_days,
        classified.lapse_days,
        classified.cpm_segment,
        classified.cpm_status,
        classified.cpm_segment || '_' || classified.cpm_status as cpm_state,
        states.cpm_state_ja
    from classified
    left join states
        on classified.cpm_segment || '_' || classified.cpm_status = states.cpm_state

)

select * from final
