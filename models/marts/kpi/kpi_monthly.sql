-- One row per month (the current month runs to as_of_date): the KPIs of kpi_daily per month
-- (distinct customers counted per month) plus revenue growth month over month and year over year
-- (null when the earlier month had no revenue or is before the data). Definitions in
-- macros/kpi_rollup.sql.
{{ kpi_rollup('month', 'month_start_date') }},

final as (

    select
        kpis.*,
        cast(revenue - lag(revenue, 1) over (order by month_start_date) as double)
            / nullif(cast(lag(revenue, 1) over (order by month_start_date) as double), 0) as revenue_growth_mom,
        cast(revenue - lag(revenue, 12) over (order by month_start_date) as double)
            / nullif(cast(lag(revenue, 12) over (order by month_start_date) as double), 0) as revenue_growth_yoy
    from kpis

)

select * from final
