-- One row per fit of the run: `full` (data to as_of_date) and `calibration` (data to as_of_date
-- - clv_holdout_days). Status `fitted`, `too_little_data` or `failed` from the Python fit of this
-- as_of_date, or `not_fitted` (with how to fit) when no fit of this as_of_date exists yet.
-- Counts come from the inputs, so they show even before a fit.
with inputs as (

    select * from {{ ref('int_clv_inputs') }}

),

fits as (

    select * from {{ source('model_fits', 'clv_fits') }}
    where as_of_date = {{ as_of_date() }}

),

counts as (

    select
        'full' as fit,
        cast(count(*) as bigint) as count_customers,
        cast(sum(case when x > 0 then 1 else 0 end) as bigint) as count_repeat_customers
    from inputs

    union all

    select
        'calibration' as fit,
        cast(sum(case when in_calibration then 1 else 0 end) as bigint) as count_customers,
        cast(sum(case when cal_x > 0 then 1 else 0 end) as bigint) as count_repeat_customers
    from inputs

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        counts.fit,
        coalesce(fits.status, 'not_fitted') as status,
        coalesce(fits.status_reason,
                 'no fit as of this date yet: run `python -m orchestration.cli run` or `python -m orchestration.predict fit`') as status_reason,
        coalesce(counts.count_customers, 0) as count_customers,
        coalesce(counts.count_repeat_customers, 0) as count_repeat_customers,
        fits.r,
        fits.alpha,
        fits.a,
        fits.b,
        fits.log_likelihood,
        fits.gg_p,
        fits.gg_q,
        fits.gg_gamma
    from counts
    left join fits
        on counts.fit = fits.fit

)

select * from final
