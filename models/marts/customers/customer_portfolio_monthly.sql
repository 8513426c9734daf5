-- One row per customer per month end on or after their first purchase and before as_of_date, plus
-- one row dated as_of_date (the month so far): the CPM (customer portfolio management, やずや)
-- state at that date. Purchases count up to and including the row date (int_customer_month_ends).
-- Definitions: domain.md "CPM"; thresholds are vars (cpm_*).
with cumulative as (

    select * from {{ ref('int_customer_month_ends') }}

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
