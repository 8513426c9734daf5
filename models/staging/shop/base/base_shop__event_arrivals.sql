-- Events: parse and validate (rules in _shop__sources.yml). Events never change: the first arrival
-- of an event_id wins.
with source as (

    select * from {{ source('shop', 'events') }}

),

parsed as (

    select
        {{ contract_parsed_columns('events') }}
        {{ contract_reject_reason('events') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        occurred_at as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['event_id'], '_source_file asc, _row_number asc') }}

)

select * from outcome
