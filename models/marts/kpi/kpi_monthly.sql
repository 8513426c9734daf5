-- One row per month (the current month runs to as_of_date): the KPIs of kpi_daily per month
-- (distinct customers counted per month) plus revenue growth month over month and year over year
-- (null when the earlier month had no revenue or is before the data). Definitions in
-- macros/kpi_rollup.sql.
{{ kpi_rollup('month', 'month_start_date') }},

with_growth as (

    select
        kpis.*,
        lag(revenue, 1) over (order by month_start_date) as revenue_previous_month,
        lag(revenue, 12) over (order by month_start_date) as revenue_same_month_last_year
    from kpis

),

final as (

    select
        month_start_date,
        revenue,
        count_orders,
        aov,
        count_new_customers,
        count_repeat_customers,
        repeat_revenue,
        repeat_rate,
        count_sessions,
        conversion_rate,
        cart_abandonment_rate,
        spend,
        cac,
        cast(revenue - revenue_previous_month as double) / nullif(cast(revenue_previous_month as double), 0) as revenue_growth_mom,
        cast(revenue - revenue_same_month_last_year as double) / nullif(cast(revenue_same_month_last_year as double), 0) as revenue_growth_yoy
    from with_growth

)

select * from final
