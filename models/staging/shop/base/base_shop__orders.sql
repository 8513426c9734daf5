-- Orders: parse every contract column, give each row its reject reason (the first rule it breaks,
-- declared once in _shop__sources.yml), then classify it kept / superseded / quarantined / pending
-- per the contract's order of work.
with source as (

    select * from {{ source('shop', 'orders') }}

),

parsed as (

    select
        {{ contract_parsed_columns('orders') }}
        {{ contract_reject_reason('orders') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        coalesce(updated_at, ordered_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['order_id'], 'effective_at desc') }}

)

select * from outcome
