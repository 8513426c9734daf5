-- What a contact log would hold for the days of the lookback window before today, recomputed from
-- the data: read once, by orchestration/activation/contact_log.py, on a warehouse whose log is
-- empty (rows marked is_reconstructed); never read by a mart. An entry is a customer in an
-- audience on a day who was not in it the day before (macro audience_entry, as customer_audiences
-- decides today's), with a consented channel (today's consent: the contract keeps no consent
-- history); held out by the stable hash (macro audience_holdout). Send time and offers of past
-- days are not known: null. A view: nothing is computed unless the log is filled.
-- The day before is the customer's previous membership row when it is that day (lag), so the
-- membership, itself a view over every customer's features of the window, is computed once: a
-- join of the membership to itself computed it twice (38 s against 23 s at 1M customers).
{{ config(materialized='view') }}

with customers as (

    select customer_id, line_opt_in, email_opt_in from {{ ref('stg_shop__customers') }}

),

with_previous as (

    select
        customer_id,
        audience,
        feature_date,
        lag(feature_date) over (partition by customer_id order by feature_date) as previous_date,
        lag(audience) over (partition by customer_id order by feature_date) as previous_audience
    from {{ ref('int_reconstructed_membership') }}

),

days as (

    select
        customer_id,
        audience,
        feature_date,
        case
            when previous_date = {{ add_days('feature_date', -1) }} then previous_audience
        end as yesterdays_audience
    from with_previous

),

final as (

    select
        days.customer_id,
        days.audience,
        days.feature_date as entry_date,
        {{ consent_channel('customers.line_opt_in', 'customers.email_opt_in') }} as channel,
        {{ audience_holdout('days.customer_id', 'days.audience') }} as is_holdout
    from days
    inner join customers on days.customer_id = customers.customer_id
    where {{ audience_entry('days.yesterdays_audience', 'days.audience') }}
        -- the first day of the window has no day before it to compare with
        and days.feature_date > {{ add_days(as_of_date(), - var('activation_lookback_days')) }}
        and days.feature_date < {{ as_of_date() }}
        and {{ consent_channel('customers.line_opt_in', 'customers.email_opt_in') }} is not null

)

select * from final
