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
        max(order_date) as last_purchase_date,
        min(order_date) as first_order_date
    from purchases
    group by 1, 2

),

-- the customer's totals at each row date with purchases, and the next such date: they hold for
-- every row date up to it (decision 94: cumulating over the 1.6M dates with purchases, not
-- over the 24.5M customer x row dates, which a window had to sort)
states as (

    select
        customer_id,
        row_date,
        lead(row_date) over (partition by customer_id order by row_date) as next_row_date,
        min(first_order_date) over (partition by customer_id) as first_purchase_date,
        cast(sum(count_purchases) over (
            partition by customer_id order by row_date rows between unbounded preceding and current row
        ) as bigint) as count_purchases_to_date,
        cast(sum(revenue) over (
            partition by customer_id order by row_date rows between unbounded preceding and current row
        ) as {{ money_type() }}) as revenue_to_date,
        max(last_purchase_date) over (
            partition by customer_id order by row_date rows between unbounded preceding and current row
        ) as last_purchase_date
    from bucketed

),

-- every row date on or after the customer's first purchase (the first row date with purchases,
-- unless an order dated after as_of_date is known: it counts in the as_of_date row, which a
-- customer has only from their first purchase on), each with the totals of the latest row date
-- with purchases on or before it
cumulative as (

    select
        states.customer_id,
        row_dates.row_date,
        states.first_purchase_date,
        states.count_purchases_to_date,
        states.revenue_to_date,
        states.last_purchase_date
    from states
    inner join row_dates
        on row_dates.row_date >= states.row_date
        and row_dates.row_date < coalesce(states.next_row_date, {{ add_days(as_of_date(), 1) }})
        and row_dates.row_date >= states.first_purchase_date

)

select * from cumulative
