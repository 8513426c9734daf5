-- One row per calibration-frequency bucket (`0` .. `6`, `7+`, `all`) when the `calibration` fit
-- of this as_of_date is `fitted`; empty otherwise. Customers whose first purchase is on or
-- before the calibration end (as_of_date - clv_holdout_days): predicted repeat purchase days in
-- the holdout (calibration fit) against the actual ones; on `all`, the share of holdout revenue
-- bought by the top 10% of customers by predicted holdout purchases.
with inputs as (

    select * from {{ ref('int_clv_inputs') }}

),

fits as (

    select * from {{ source('model_fits', 'clv_fits') }}
    where fit = 'calibration' and status = 'fitted' and as_of_date = {{ as_of_date() }}

),

scores as (

    select * from {{ source('model_fits', 'clv_scores') }}
    where fit = 'calibration' and as_of_date = {{ as_of_date() }}

),

buckets as (

    {% for bucket in ['0', '1', '2', '3', '4', '5', '6', '7+', 'all'] -%}
    select '{{ bucket }}' as frequency_bucket, {{ loop.index }} as bucket_order
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

customers as (

    select
        inputs.customer_id,
        inputs.calibration_end_date,
        case when inputs.cal_x >= 7 then '7+' else cast(inputs.cal_x as {{ dbt.type_string() }}) end as frequency_bucket,
        inputs.holdout_purchases,
        inputs.holdout_revenue,
        scores.expected_purchases_holdout,
        row_number() over (order by scores.expected_purchases_holdout desc, inputs.customer_id) as predicted_rank,
        count(*) over () as count_all
    from inputs
    inner join scores
        on inputs.customer_id = scores.customer_id
    cross join (select count(*) as n from fits) as fitted
    where inputs.in_calibration and fitted.n = 1

),

per_bucket as (

    select
        frequency_bucket,
        count(*) as count_customers,
        sum(holdout_purchases) as actual_purchases_holdout,
        {{ exact_sum('expected_purchases_holdout') }} as predicted_purchases_holdout
    from customers
    group by frequency_bucket

    union all

    select
        'all' as frequency_bucket,
        count(*) as count_customers,
        sum(holdout_purchases) as actual_purchases_holdout,
        {{ exact_sum('expected_purchases_holdout') }} as predicted_purchases_holdout
    from customers

),

top_decile as (

    select
        {{ safe_divide('sum(case when predicted_rank <= ceil(0.1 * count_all) then holdout_revenue else 0 end)',
                       'sum(holdout_revenue)') }} as top_decile_revenue_share
    from customers

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        {{ add_days(add_days(as_of_date(), -var('clv_holdout_days')), 1) }} as holdout_start_date,
        buckets.frequency_bucket,
        cast(coalesce(per_bucket.count_customers, 0) as bigint) as count_customers,
        cast(coalesce(per_bucket.actual_purchases_holdout, 0) as bigint) as actual_purchases_holdout,
        cast(coalesce(per_bucket.predicted_purchases_holdout, 0) as double) as predicted_purchases_holdout,
        cast({{ safe_divide('per_bucket.actual_purchases_holdout', 'per_bucket.count_customers') }} as double) as mean_actual,
        cast({{ safe_divide('per_bucket.predicted_purchases_holdout', 'per_bucket.count_customers') }} as double) as mean_predicted,
        cast(case when buckets.frequency_bucket = 'all' then top_decile.top_decile_revenue_share end as double)
            as top_decile_revenue_share,
        cast(buckets.bucket_order as integer) as bucket_order
    from buckets
    left join per_bucket
        on buckets.frequency_bucket = per_bucket.frequency_bucket
    cross join top_decile
    where (select count(*) from fits) = 1

)

select * from final
