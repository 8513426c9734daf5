-- Spend in channel_acquisition and kpi_daily sums to the valid spend rows of the raw table:
-- unmapped sources are shown as `other`, never dropped.
-- In Dagster an asset check on channel_acquisition.
{{ config(meta={'dagster': {'ref': {'name': 'channel_acquisition'}}}) }}
with raw_spend as (

    select coalesce(sum(spend), 0) as spend from {{ ref('stg_shop__marketing_spends') }}

),

acquisition as (

    select coalesce(sum(spend), 0) as spend from {{ ref('channel_acquisition') }}

),

daily as (

    select coalesce(sum(spend), 0) as spend from {{ ref('kpi_daily') }}

)

select raw_spend.spend as raw_spend, acquisition.spend as acquisition_spend, daily.spend as daily_spend
from raw_spend
cross join acquisition
cross join daily
where raw_spend.spend != acquisition.spend or raw_spend.spend != daily.spend
