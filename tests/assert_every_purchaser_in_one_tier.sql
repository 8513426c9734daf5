-- Every customer with a purchase on or before as_of_date has exactly one loyalty tier, and the
-- tier profile counts add up to the number of such customers.
-- In Dagster an asset check on dim_customers: the test runs in the second dbt step, after the
-- model fits, with dim_customers.
{{ config(meta={'dagster': {'ref': {'name': 'dim_customers'}}}) }}
with purchasers as (

    select count(*) as n from {{ ref('dim_customers') }} where count_purchases > 0

),

rfm as (

    select count(*) as n, count(distinct customer_id) as n_distinct,
        sum(case when loyalty_tier in ('loyal', 'semi_loyal', 'general', 'nurture') then 1 else 0 end) as n_tiered
    from {{ ref('customer_rfm') }}

),

profile as (

    select sum(count_customers) as n from {{ ref('loyalty_tier_profile') }}

)

select purchasers.n as purchasers, rfm.n as rfm_rows, rfm.n_distinct, rfm.n_tiered, profile.n as profile_total
from purchasers
cross join rfm
cross join profile
where not (purchasers.n = rfm.n and rfm.n = rfm.n_distinct and rfm.n = rfm.n_tiered and rfm.n = profile.n)
