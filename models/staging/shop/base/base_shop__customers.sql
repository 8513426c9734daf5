-- Customers: parse and validate, keep the latest version per customer_id. Personal data (email,
-- full_name) is not selected: it stays in raw.
with source as (

    select * from {{ source('shop', 'customers') }}

),

parsed as (

    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ parse_timestamp('registered_at') }} as registered_at,
        {{ clean_text('acquisition_source') }} as acquisition_source,
        {{ clean_text('prefecture') }} as prefecture,
        {{ parse_integer('birth_year') }} as birth_year,
        {{ parse_timestamp('updated_at') }} as updated_at,
        case
            when {{ clean_text('customer_id') }} is null then 'missing customer_id'
            when {{ clean_text('registered_at') }} is null then 'missing registered_at'
            when {{ is_unparseable('registered_at', parse_timestamp('registered_at')) }} then 'unparseable registered_at'
            when {{ is_unparseable('birth_year', parse_integer('birth_year')) }} then 'unparseable birth_year'
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
        coalesce(updated_at, registered_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['customer_id'], 'effective_at desc, _source_file desc, _row_number desc') }}

)

select * from outcome
