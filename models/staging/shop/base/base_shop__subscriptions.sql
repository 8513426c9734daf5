-- Subscriptions (定期 contracts, optional table): parse every contract column, give each row its
-- reject reason (first broken rule), then classify it kept / superseded / quarantined / pending per
-- the contract's order of work. A cancellation arrives as a re-sent row with a later updated_at;
-- a missing updated_at defaults to cancelled_at, else started_at.
with source as (

    select * from {{ source('shop', 'subscriptions') }}

),

parsed as (

    select
        {{ clean_text('subscription_id') }} as subscription_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('product_id') }} as product_id,
        {{ parse_timestamp('started_at') }} as started_at,
        {{ parse_integer('interval_days') }} as interval_days,
        {{ clean_code('status') }} as status,
        {{ parse_timestamp('cancelled_at') }} as cancelled_at,
        {{ clean_text('cancel_reason') }} as cancel_reason,
        {{ clean_text('offer_code') }} as offer_code,
        {{ parse_timestamp('updated_at') }} as updated_at,
        case
            when {{ clean_text('subscription_id') }} is null then 'missing subscription_id'
            when {{ clean_text('customer_id') }} is null then 'missing customer_id'
            when {{ clean_text('product_id') }} is null then 'missing product_id'
            when {{ clean_text('started_at') }} is null then 'missing started_at'
            when {{ is_unparseable('started_at', parse_timestamp('started_at')) }} then 'unparseable started_at'
            when {{ is_unparseable('interval_days', parse_integer('interval_days')) }} then 'unparseable interval_days'
            when {{ parse_integer('interval_days') }} <= 0 then 'non-positive interval_days'
            when {{ clean_code('status') }} is null then 'missing status'
            when {{ clean_code('status') }} not in ('active', 'paused', 'cancelled') then 'unknown status'
            when {{ is_unparseable('cancelled_at', parse_timestamp('cancelled_at')) }} then 'unparseable cancelled_at'
            when {{ clean_code('status') }} = 'cancelled' and {{ clean_text('cancelled_at') }} is null then 'missing cancelled_at'
            when {{ is_unparseable('updated_at', parse_timestamp('updated_at')) }} then 'unparseable updated_at'
        end as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        coalesce(updated_at, cancelled_at, started_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['subscription_id'], 'effective_at desc, _source_file desc, _row_number desc') }}

)

select * from outcome
