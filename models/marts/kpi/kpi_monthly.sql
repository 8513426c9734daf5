-- One row per month (the current month runs to as_of_date): the KPIs of kpi_daily per month
-- (distinct customers counted per month) plus revenue growth month over month and year over year.
-- A month not over on as_of_date (is_month_to_date) is compared with the same days of the earlier
-- month (days 1..count_days, fewer where that month is shorter), never with a whole month; a
-- complete month with the whole earlier month. Growth is null when the earlier window had no
-- revenue or is before the data. Definitions in macros/kpi_rollup.sql.
{{ kpi_rollup('month', 'month_start_date') }},

daily as (

    select date_day, revenue from {{ ref('kpi_daily') }}

),

periods as (

    select
        month_start_date,
        {{ as_of_date() }} < cast({{ dbt.last_day('month_start_date', 'month') }} as date) as is_month_to_date,
        cast({{ days_between('month_start_date', 'least(cast(' ~ dbt.last_day('month_start_date', 'month') ~ ' as date), ' ~ as_of_date() ~ ')') }} + 1 as integer) as count_days,
        cast({{ dbt.dateadd('month', -1, 'month_start_date') }} as date) as previous_month_start_date,
        cast({{ dbt.dateadd('month', -12, 'month_start_date') }} as date) as previous_year_start_date
    from kpis

),

comparison_windows as (

    select
        month_start_date,
        is_month_to_date,
        count_days,
        previous_month_start_date,
        previous_year_start_date,
        {%- for earlier in ['previous_month', 'previous_year'] %}
        case
            when is_month_to_date
                then least(
                    {{ add_days(earlier ~ '_start_date', 'count_days - 1') }},
                    cast({{ dbt.last_day(earlier ~ '_start_date', 'month') }} as date)
                )
            else cast({{ dbt.last_day(earlier ~ '_start_date', 'month') }} as date)
        end as {{ earlier }}_end_date{{ ',' if not loop.last }}
        {%- endfor %}
    from periods

),

earlier_revenue as (

    select
        comparison_windows.month_start_date,
        sum(case
            when daily.date_day between comparison_windows.previous_month_start_date
                and comparison_windows.previous_month_end_date
                then daily.revenue
        end) as revenue_previous_month,
        sum(case
            when daily.date_day between comparison_windows.previous_year_start_date
                and comparison_windows.previous_year_end_date
                then daily.revenue
        end) as revenue_previous_year
    from comparison_windows
    left join daily
        on daily.date_day between comparison_windows.previous_year_start_date
        and comparison_windows.previous_month_end_date
    group by comparison_windows.month_start_date

),

final as (

    select
        kpis.*,
        comparison_windows.is_month_to_date,
        comparison_windows.count_days,
        cast(earlier_revenue.revenue_previous_month as {{ money_type() }}) as revenue_previous_month,
        cast(earlier_revenue.revenue_previous_year as {{ money_type() }}) as revenue_previous_year,
        cast(kpis.revenue - earlier_revenue.revenue_previous_month as double)
            / nullif(cast(earlier_revenue.revenue_previous_month as double), 0) as revenue_growth_mom,
        cast(kpis.revenue - earlier_revenue.revenue_previous_year as double)
            / nullif(cast(earlier_revenue.revenue_previous_year as double), 0) as revenue_growth_yoy
    from kpis
    inner join comparison_windows
        on kpis.month_start_date = comparison_windows.month_start_date
    left join earlier_revenue
        on kpis.month_start_date = earlier_revenue.month_start_date

)

select * from final
