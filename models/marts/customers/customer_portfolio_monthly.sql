-- One row per customer per month end on or after their first purchase and before as_of_date, plus
-- one row dated as_of_date (the month so far): the CPM (customer portfolio management, やずや)
-- state at that date. Purchases count up to and including the row date (int_customer_month_ends).
-- Definitions: domain.md "CPM"; thresholds are vars (cpm_*).
-- Incremental on DuckDB (decision 152): a row dated before the last run's as_of_date depends only
-- on the customer's purchases up to it, so a day writes again the rows dated since then and every
-- row of the customers whose orders changed (loaded since, or not yet known on that day); the
-- state beside it (intermediate.customer_portfolio_monthly_state) says what the last run knew.
-- A backfill (as_of_date moves back) or other thresholds redo every row: the table always equals
-- a rebuild as of the run's date.
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ cpm_forget_rows() }}",
    post_hook="{{ cpm_save_state() }}"
) }}
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('int_orders_enriched') }}
with cumulative as (

    {% if is_incremental() -%}
    {%- set last_run = cpm_last_run() -%}
    {{ customer_month_ends(since=last_run, redo=cpm_redo_customers(last_run)) | indent(4) }}
    {%- else -%}
    select * from {{ ref('int_customer_month_ends') }}
    {%- endif %}

),

states as (

    select * from {{ ref('cpm_states') }}

),

measured as (

    select
        *,
        {{ days_between('first_purchase_date', 'last_purchase_date') }} as tenure_days,
        {{ days_between('last_purchase_date', 'row_date') }} as lapse_days
    from cumulative

),

classified as (

    select
        *,
        {{ cpm_segment('count_purchases_to_date', 'tenure_days', 'revenue_to_date') }} as cpm_segment,
        {{ cpm_status('lapse_days') }} as cpm_status
    from measured

),

final as (

    select
        classified.customer_id,
        classified.row_date as month_end_date,
        classified.row_date = {{ as_of_date() }} as is_as_of_row,
        classified.first_purchase_date,
        classified.last_purchase_date,
        classified.count_purchases_to_date,
        classified.revenue_to_date,
        classified.tenure_days,
        classified.lapse_days,
        classified.cpm_segment,
        classified.cpm_status,
        classified.cpm_segment || '_' || classified.cpm_status as cpm_state,
        states.cpm_state_ja
    from classified
    left join states
        on classified.cpm_segment || '_' || classified.cpm_status = states.cpm_state

)

select * from final
