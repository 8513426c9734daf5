-- Events: parse and validate. Events never change, so the FIRST arrival of an event_id wins
-- (earliest file, then earliest row); later copies are superseded.
with source as (

    select * from {{ source('shop', 'events') }}

),

parsed as (

    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('session_id') }} as session_id,
        {{ clean_text('anonymous_id') }} as anonymous_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_code('event_type') }} as event_type,
        {{ parse_timestamp('occurred_at') }} as occurred_at,
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('utm_source') }} as utm_source,
        {{ clean_text('utm_medium') }} as utm_medium,
        {{ clean_text('utm_campaign') }} as utm_campaign,
        {{ clean_code('device') }} as device,
        case
            when {{ clean_text('event_id') }} is null then 'missing event_id'
            when {{ clean_text('session_id') }} is null then 'missing session_id'
            when {{ clean_text('anonymous_id') }} is null then 'missing anonymous_id'
            when {{ clean_code('event_type') }} is null then 'missing event_type'
            when {{ clean_code('event_type') }} not in ('page_view', 'product_view', 'add_to_cart', 'checkout_start', 'purchase') then 'unknown event_type'
            when {{ clean_text('occurred_at') }} is null then 'missing occurred_at'
            when {{ is_unparseable('occurred_at', parse_timestamp('occurred_at')) }} then 'unparseable occurred_at'
        end as reject_reason,
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
