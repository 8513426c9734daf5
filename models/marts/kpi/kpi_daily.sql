-- One row per business date from the first data date to as_of_date: revenue, orders, AOV, new vs
-- repeat customers, sessions, conversion, cart abandonment, spend, CAC. Definitions in
-- macros/kpi_rollup.sql (shared with kpi_monthly).
{{ kpi_rollup('day', 'date_day') }}

select * from kpis
