-- Customers: parse and validate (rules in _shop__sources.yml), keep the latest version per
-- customer_id. Personal data (email, full_name) is not selected: it stays in raw.
with source as (

    select * from {{ source('shop', 'customers') }}

),

parsed as (

    select
        {{ contract_parsed_columns('customers') }}
        {{ contract_reject_reason('customers') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        coalesce(updated_at, registered_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['customer_id'], 'effective_at desc, _source_file desc, _row_number desc') }}

)

select * from outcome
