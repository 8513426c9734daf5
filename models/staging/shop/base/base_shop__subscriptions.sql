-- Subscriptions (定期 contracts, optional table): parse every contract column, give each row its
-- reject reason (the first rule it breaks, declared in the var raw_contract), then classify it
-- kept / superseded / quarantined / pending per the contract's order of work. A cancellation arrives as a re-sent row with a later updated_at;
-- a missing updated_at defaults to cancelled_at, else started_at.
with source as (

    select * from {{ source('shop', 'subscriptions') }}

),

parsed as (

    select
        {{ contract_parsed_columns('subscriptions') }}
        {{ contract_reject_reason('subscriptions') }} as reject_reason,
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

    {{ row_outcome('with_effective', ['subscription_id'], 'effective_at desc') }}

)

select * from outcome
