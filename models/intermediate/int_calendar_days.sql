-- One row per business date from the first order, session or spend date up to as_of_date.
with firsts as (

    select min(order_date) as first_date from {{ ref('stg_shop__orders') }}
    union all
    select min(occurred_date) from {{ ref('stg_shop__events') }}
    union all
    select min(spend_date) from {{ ref('stg_shop__marketing_spends') }}

),

bounds as (

    select coalesce(min(first_date), {{ as_of_date() }}) as first_date from firsts

),

numbers as (

    {{ number_series(5) }}

),

days as (

    select {{ add_days('bounds.first_date', 'numbers.n') }} as date_day
    from bounds
    cross join numbers
    where numbers.n <= {{ days_between('bounds.first_date', as_of_date()) }}

),

final as (

    select
        date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start_date,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date
    from days

)

select * from final
