-- What a contact log would hold for the days of the lookback window before today, recomputed from
-- the data: read once, by orchestration/activation/contact_log.py, on a warehouse whose log is
-- empty (rows marked is_reconstructed); never read by a mart. An entry is a customer in an
-- audience on a day who was not in it the day before, with a consented channel (today's consent:
-- the contract keeps no consent history); held out by the stable hash. Send time and offers of
-- past days are not known: null. A view: nothing is computed unless the log is filled.
{{ config(materialized='view') }}

with customers as (

    select customer_id, line_opt_in, email_opt_in from {{ ref('stg_shop__customers') }}

),

final as (

    select
        today.customer_id,
        today.audience,
        today.feature_date as entry_date,
        {{ consent_channel('customers.line_opt_in', 'customers.email_opt_in') }} as channel,
        {{ stable_bucket("today.customer_id || '|' || today.audience") }}
            < {{ var('activation_holdout_share') }} * 10000 as is_holdout
    from {{ ref('int_reconstructed_membership') }} as today
    left join {{ ref('int_reconstructed_membership') }} as yesterday
        on today.customer_id = yesterday.customer_id
        and yesterday.feature_date = {{ add_days('today.feature_date', -1) }}
    inner join customers on today.customer_id = customers.customer_id
    where (yesterday.audience is null or yesterday.audience != today.audience)
        -- the first day of the window has no day before it to compare with
        and today.feature_date > {{ add_days(as_of_date(), - var('activation_lookback_days')) }}
        and today.feature_date < {{ as_of_date() }}
        and {{ consent_channel('customers.line_opt_in', 'customers.email_opt_in') }} is not null

)

select * from final
