-- One row per customer per CPM row date: every month end on or after the customer's first
-- purchase and before as_of_date, plus as_of_date itself; with purchases, revenue and last
-- purchase date cumulated up to and including that date. The spine of customer_portfolio_monthly,
-- a view: the mart reads it whole on a full build and only the rows it redoes on a day (the
-- macro customer_month_ends, decision 152). A table on Spark: its Hive metastore keeps a view's
-- text in at most 32,700 characters, and this view's expanded text is longer.
{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

{{ customer_month_ends() }}
