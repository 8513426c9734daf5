-- Order items: parse and validate (rules in _shop__sources.yml), then keep one version per
-- (order_id, line_number). Items have no timestamp: the last load wins (then the file name). Whether the order exists is
-- decided in stg_shop__order_items.
with source as (

    select * from {{ source('shop', 'order_items') }}

),

parsed as (

    select
        {{ contract_parsed_columns('order_items') }}
        {{ contract_reject_reason('order_items') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        cast(null as timestamp) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['order_id', 'line_number']) }}

)

select * from outcome
