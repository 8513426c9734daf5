-- One row per 定期 contract: the surviving version of each valid subscription known by as_of_date.
-- A cancellation dated after as_of_date is not known yet: that contract stays active on as_of.
with base as (

    select * from {{ ref('base_shop__subscriptions') }}

),

final as (

    select
        subscription_id,
        customer_id,
        product_id,
        started_at,
        cast(started_at as date) as started_date,
        interval_days,
        status,
        cancelled_at,
        cast(cancelled_at as date) as cancelled_date,
        cancel_reason,
        offer_code,
        updated_at,
        _source_file
    from base
    where row_outcome = 'kept'

)

select * from final
