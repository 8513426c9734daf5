-- One row per customer per CPM row date: every month end on or after the customer's first
-- purchase and before as_of_date, plus as_of_date itself; with purchases, revenue and last
-- purchase date cumulated up to and including that date. The spine of customer_portfolio_monthly,
-- a view: the mart reads it whole on a full build and only the rows it redoes on a day (the
-- macro customer_month_ends, decision 152).
{{ config(materialized='view') }}

{{ customer_month_ends() }}
