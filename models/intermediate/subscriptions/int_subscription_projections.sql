-- One row per sBG fit group (acquisition_channel x product_id x offer_code, each also `all`, pooled
-- over start cohorts) x delivery_number 1 .. max(13, subscription_ltv_deliveries): the projected
-- share reaching delivery n, S(n - 1) = prod_{i=1..n-1} (beta + i - 1) / (alpha + beta + i - 1)
-- (Fader & Hardie 2007), from the fits of this as_of_date with status `fitted`; for status
-- `geometric` (no heterogeneity in churn: the estimate ran to its bound) the model's limit,
-- S(n - 1) = (1 - theta)^(n - 1) with theta = alpha / (alpha + beta). Empty before any fit.
{%- set max_n = [13, var('subscription_ltv_deliveries')] | max %}
with fits as (

    {{ usable_retention_fits() }}

),

delivery_numbers as (

    select n as delivery_number from ({{ number_series(3) }}) as numbers where n between 1 and {{ max_n }}

),

fit_terms as (

    select
        fits.acquisition_channel,
        fits.product_id,
        fits.offer_code,
        delivery_numbers.delivery_number as renewal,
        case
            when fits.status = 'geometric' then ln(fits.beta / (fits.alpha + fits.beta))
            else ln((fits.beta + delivery_numbers.delivery_number - 1) / (fits.alpha + fits.beta + delivery_numbers.delivery_number - 1))
        end as log_term
    from fits
    cross join delivery_numbers

),

final as (

    select
        fits.acquisition_channel,
        fits.product_id,
        fits.offer_code,
        cast(delivery_numbers.delivery_number as integer) as delivery_number,
        cast(exp(coalesce({{ exact_sum('fit_terms.log_term') }}, 0)) as double) as projected_retention_rate
    from fits
    cross join delivery_numbers
    left join fit_terms
        on fits.acquisition_channel = fit_terms.acquisition_channel
        and fits.product_id = fit_terms.product_id
        and fits.offer_code = fit_terms.offer_code
        and fit_terms.renewal <= delivery_numbers.delivery_number - 1
    group by fits.acquisition_channel, fits.product_id, fits.offer_code, delivery_numbers.delivery_number

)

select * from final
