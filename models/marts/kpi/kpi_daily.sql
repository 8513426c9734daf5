-- One row per business date from the first data date to as_of_date: revenue, orders, AOV, new vs
-- repeat customers, sessions, conversion, cart abandonment, spend, CAC. Definitions in
-- macros/kpi_rollup.sql (shared with kpi_monthly).
{{ kpi_rollup('day') }}

select
    period_date as date_day,
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
    cac
from joined
