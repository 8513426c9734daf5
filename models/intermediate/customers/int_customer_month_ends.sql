-- One row per customer per CPM row date: every month end on or after the customer's first
-- purchase and before as_of_date, plus as_of_date itself; with purchases, revenue and last
-- purchase date cumulated up to and including that date. The spine of customer_portfolio_monthly.
with purchases as (

    select customer_id, order_date, order_total
    from {{ ref('int_orders_enriched') }}
    where is_purchase and customer_id is not null

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
        ) as {{ money_type() }}) as revenue_to_date,
        max(bucketed.last_purchase_date) over (
            partition by spine.customer_id order by spine.row_date rows between unbounded preceding and current row
        ) as last_purchase_date
    from spine
    left join bucketed
        on spine.customer_id = bucketed.customer_id
        and spine.row_date = bucketed.row_date

)

select * from cumulative
