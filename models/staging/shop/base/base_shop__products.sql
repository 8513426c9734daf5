-- Products: parse and validate, keep the latest version per product_id.
with source as (

    select * from {{ source('shop', 'products') }}

),

parsed as (

    select
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('product_name') }} as product_name,
        {{ clean_code('category') }} as category,
        {{ parse_decimal('unit_cost') }} as unit_cost,
        {{ parse_timestamp('launched_at') }} as launched_at,
        {{ parse_timestamp('updated_at') }} as updated_at,
        case
            when {{ clean_text('product_id') }} is null then 'missing product_id'
            when {{ clean_text('product_name') }} is null then 'missing product_name'
            when {{ clean_text('category') }} is null then 'missing category'
            when {{ is_unparseable('unit_cost', parse_decimal('unit_cost')) }} then 'unparseable unit_cost'
            when {{ parse_decimal('unit_cost') }} < 0 then 'negative unit_cost'
            when {{ is_unparseable('launched_at', parse_timestamp('launched_at')) }} then 'unparseable launched_at'
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
        coalesce(updated_at, launched_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['product_id'], 'effective_at desc, _source_file desc, _row_number desc') }}

)

select * from outcome
