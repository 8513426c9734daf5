-- Order items: parse and validate, then keep one version per (order_id, line_number). Items have
-- no timestamp: the last file wins. Whether the order exists is decided in stg_shop__order_items.
with source as (

    select * from {{ source('shop', 'order_items') }}

),

parsed as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ parse_integer('line_number') }} as line_number,
        {{ clean_text('product_id') }} as product_id,
        {{ parse_integer('quantity') }} as quantity,
        {{ parse_decimal('unit_price') }} as unit_price,
        case
            when {{ clean_text('order_id') }} is null then 'missing order_id'
            when {{ clean_text('line_number') }} is null then 'missing line_number'
            when {{ is_unparseable('line_number', parse_integer('line_number')) }} then 'unparseable line_number'
            when {{ clean_text('product_id') }} is null then 'missing product_id'
            when {{ clean_text('quantity') }} is null then 'missing quantity'
            when {{ is_unparseable('quantity', parse_integer('quantity')) }} then 'unparseable quantity'
            when {{ parse_integer('quantity') }} <= 0 then 'non-positive quantity'
            when {{ clean_text('unit_price') }} is null then 'missing unit_price'
            when {{ is_unparseable('unit_price', parse_decimal('unit_price')) }} then 'unparseable unit_price'
            when {{ parse_decimal('unit_price') }} < 0 then 'negative unit_price'
        end as reject_reason,
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

    {{ row_outcome('with_effective', ['order_id', 'line_number'], '_source_file desc, _row_number desc') }}

)

select * from outcome
