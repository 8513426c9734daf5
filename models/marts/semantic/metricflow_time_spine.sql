-- One row per business date from the first order, session or spend date up to as_of_date: the
-- time spine MetricFlow joins metrics to (published with the marts so `mf query` runs on the
-- published file).
with calendar as (

    select date_day from {{ ref('int_calendar_days') }}

),

final as (

    select distinct cast(date_day as date) as date_day
    from calendar

)

select * from final
