-- One row per calibration-frequency bucket (`0` .. `6`, `7+`, `all`) when the `calibration` fit
-- of this as_of_date is `fitted`; empty otherwise. Customers whose first purchase is on or
-- before the calibration end (as_of_date - clv_holdout_days): predicted repeat purchase days in
-- the holdout (calibration fit) against the actual ones; on `all`, how well the ranking finds the
-- customers who bought (domain.md "Predicted lifetime value and churn"):
--   top_decile_revenue_share  share of holdout revenue bought by the top 10% of customers by
--                             predicted holdout purchases
--   auc_churn_score           AUC of the churn score for "bought again in the holdout" (a lower
--                             score ranks first; 0.5 is chance, ties count half)
--   auc_recency_baseline      the same for the days since the last purchase at the calibration end
--   auc_bgnbd_churn_score     the same for BG/NBD's churn score, and churn_score_model the score the
--                             run publishes: recency's where BG/NBD's ranks worse (decision 0156)
--   spearman_purchases        rank correlation of predicted and actual holdout purchases
--   is_worse_than_baseline    auc_churn_score < auc_recency_baseline
-- AUC = (sum of the buyers' average ranks - n_pos (n_pos + 1) / 2) / (n_pos x n_neg), ranks ascending
-- in the probability of buying (1 - churn score; minus the days since the last purchase).
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
        scores.churn_score,
        scores.bgnbd_churn_score,
        cast(inputs.cal_big_t - inputs.cal_t_x as double) as calibration_recency_days,
        case when inputs.holdout_purchases > 0 then 1 else 0 end as bought_again,
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

-- average ranks (ties share the mean of their positions)
ranked as (

    select
        bought_again,
        rank() over (order by churn_score desc)
            + (count(*) over (partition by churn_score) - 1) / 2.0 as churn_rank,
        rank() over (order by bgnbd_churn_score desc)
            + (count(*) over (partition by bgnbd_churn_score) - 1) / 2.0 as bgnbd_churn_rank,
        rank() over (order by calibration_recency_days desc)
            + (count(*) over (partition by calibration_recency_days) - 1) / 2.0 as recency_rank,
        rank() over (order by expected_purchases_holdout)
            + (count(*) over (partition by expected_purchases_holdout) - 1) / 2.0 as predicted_purchases_rank,
        rank() over (order by holdout_purchases)
            + (count(*) over (partition by holdout_purchases) - 1) / 2.0 as actual_purchases_rank
    from customers

),

ranking as (

    select
        {{ safe_divide('sum(bought_again * churn_rank) - sum(bought_again) * (sum(bought_again) + 1) / 2.0',
                       'cast(sum(bought_again) as double) * (count(*) - sum(bought_again))') }} as auc_churn_score,
        {{ safe_divide('sum(bought_again * recency_rank) - sum(bought_again) * (sum(bought_again) + 1) / 2.0',
                       'cast(sum(bought_again) as double) * (count(*) - sum(bought_again))') }} as auc_recency_baseline,
        {{ safe_divide('sum(bought_again * bgnbd_churn_rank) - sum(bought_again) * (sum(bought_again) + 1) / 2.0',
                       'cast(sum(bought_again) as double) * (count(*) - sum(bought_again))') }} as auc_bgnbd_churn_score,
        -- Pearson of the ranks from exact sums (a parallel float sum would differ in the last
        -- digits from run to run)
        (
            {{ exact_sum('predicted_purchases_rank * actual_purchases_rank') }}
            - {{ exact_sum('predicted_purchases_rank') }} * {{ exact_sum('actual_purchases_rank') }} / count(*)
        ) / nullif(sqrt(
            ({{ exact_sum('predicted_purchases_rank * predicted_purchases_rank') }}
             - {{ exact_sum('predicted_purchases_rank') }} * {{ exact_sum('predicted_purchases_rank') }} / count(*))
            * ({{ exact_sum('actual_purchases_rank * actual_purchases_rank') }}
               - {{ exact_sum('actual_purchases_rank') }} * {{ exact_sum('actual_purchases_rank') }} / count(*))
        ), 0) as spearman_purchases
    from ranked

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
        cast(case when buckets.frequency_bucket = 'all' then ranking.auc_churn_score end as double) as auc_churn_score,
        cast(case when buckets.frequency_bucket = 'all' then ranking.auc_recency_baseline end as double)
            as auc_recency_baseline,
        cast(case when buckets.frequency_bucket = 'all' then ranking.spearman_purchases end as double)
            as spearman_purchases,
        case when buckets.frequency_bucket = 'all'
            then ranking.auc_churn_score < ranking.auc_recency_baseline end as is_worse_than_baseline,
        cast(case when buckets.frequency_bucket = 'all' then ranking.auc_bgnbd_churn_score end as double)
            as auc_bgnbd_churn_score,
        case when buckets.frequency_bucket = 'all' then chosen.churn_score_model end as churn_score_model,
        cast(buckets.bucket_order as integer) as bucket_order
    from buckets
    left join per_bucket
        on buckets.frequency_bucket = per_bucket.frequency_bucket
    cross join top_decile
    cross join ranking
    cross join (select max(churn_score_model) as churn_score_model from fits) as chosen
    where (select count(*) from fits) = 1

)

select * from final
