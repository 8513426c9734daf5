-- Products: parse and validate (rules in _shop__sources.yml), keep the latest version per product_id.
with source as (

    select * from {{ source('shop', 'products') }}

),

parsed as (

    select
        {{ contract_parsed_columns('products') }}
        {{ contract_reject_reason('products') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        coalesce(updated_at, launched_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['product_id'], 'effective_at desc') }}

)

select * from outcome
