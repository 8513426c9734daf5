-- One row per customer with a purchase on or before as_of_date: RFM scores and segment, the four
-- loyalty tiers of text 002, LTV and the 最優良 / 高LTV一般 flags. Definitions: domain.md "RFM".
{%- set f_breaks = var('rfm_frequency_breaks') %}
{%- set buckets = var('rfm_score_buckets') %}
with purchases as (

    select customer_id, order_date, order_total
    from {{ ref('int_orders_enriched') }}
    where is_purchase and customer_id is not null

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

tiers as (

    select * from {{ ref('loyalty_tiers') }}

),

per_customer as (

    select
        customer_id,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date,
        cast(count(*) as bigint) as frequency,
        cast(sum(order_total) as {{ money_type() }}) as monetary,
        cast(sum(case
            when order_date > {{ add_days(as_of_date(), - var('loyalty_window_days')) }} then 1 else 0
        end) as bigint) as purchases_in_window
    from purchases
    group by customer_id

),

with_recency as (

    select
        *,
        {{ days_between('last_purchase_date', as_of_date()) }} as recency_days
    from per_customer

),

-- score = ceil(buckets x cume_dist), computed exactly in integers: k = customers at or below
-- this one in the ordering (ties share k), n = all customers. Equal values never split.
ranked as (

    select
        *,
        count(*) over () as n_customers,
        count(*) over (order by recency_days desc range between unbounded preceding and current row) as k_recency,
        count(*) over (order by monetary asc range between unbounded preceding and current row) as k_monetary
    from with_recency

),

scored as (

    select
        customer_id,
        first_purchase_date,
        last_purchase_date,
        recency_days,
        frequency,
        monetary,
        purchases_in_window,
        {{ ceil_bucket('k_recency', 'n_customers', buckets) }} as r_score,
        case
            {%- for i in range(f_breaks | length, 1, -1) %}
            when frequency >= {{ f_breaks[i - 1] }} then {{ i }}
            {%- endfor %}
            else 1
        end as f_score,
        {{ ceil_bucket('k_monetary', 'n_customers', buckets) }} as m_score
    from ranked

),

segmented as (

    select
        scored.*,
        segments.rfm_segment,
        row_number() over (partition by scored.customer_id order by segments.priority) as segment_rank
    from scored
    left join segments
        on scored.r_score between segments.r_min and segments.r_max
        and scored.f_score between segments.f_min and segments.f_max
        and scored.m_score between segments.m_min and segments.m_max

),

tiered as (

    select
        customer_id,
        first_purchase_date,
        last_purchase_date,
        recency_days,
        frequency,
        monetary,
        purchases_in_window,
        r_score,
        f_score,
        m_score,
        coalesce(rfm_segment, 'unsegmented') as rfm_segment,
        {{ loyalty_tier('frequency', 'purchases_in_window') }} as loyalty_tier,
        -- LTV = AOV x purchases per year x horizon; purchases per year = frequency / max(1, years
        -- from first purchase to as_of), years = days / 365
        cast(monetary as double) / frequency
            * (cast(frequency as double) / greatest(1.0, {{ days_between('first_purchase_date', as_of_date()) }} / 365.0))
            * {{ var('ltv_horizon_years') }} as ltv
    from segmented
    where segment_rank = 1

),

loyal_cutoffs as (

    select
        {{ percentile_cont('ltv', var('top_ltv_quantile')) }} as top_ltv_cutoff,
        {{ percentile_cont('ltv', var('high_ltv_general_quantile')) }} as high_ltv_general_cutoff
    from tiered
    where loyalty_tier = 'loyal'

),

final as (

    select
        tiered.customer_id,
        {{ as_of_date() }} as as_of_date,
        tiered.first_purchase_date,
        tiered.last_purchase_date,
        tiered.recency_days,
        tiered.frequency,
        tiered.monetary,
        tiered.purchases_in_window as purchases_in_loyalty_window,
        tiered.r_score,
        tiered.f_score,
        tiered.m_score,
        cast(tiered.r_score as {{ dbt.type_string() }})
            || cast(tiered.f_score as {{ dbt.type_string() }})
            || cast(tiered.m_score as {{ dbt.type_string() }}) as rfm_cell,
        tiered.rfm_segment,
        tiered.loyalty_tier,
        tiers.loyalty_tier_ja,
        cast(tiered.ltv as double) as ltv,
        coalesce(tiered.loyalty_tier = 'loyal' and tiered.ltv >= loyal_cutoffs.top_ltv_cutoff, false) as is_top_ltv,
        coalesce(tiered.loyalty_tier = 'general' and tiered.ltv >= loyal_cutoffs.high_ltv_general_cutoff, false) as is_high_ltv_general
    from tiered
    left join tiers
        on tiered.loyalty_tier = tiers.loyalty_tier
    cross join loyal_cutoffs

)

select * from final
