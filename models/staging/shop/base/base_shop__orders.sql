-- Orders: parse every contract column, give each row its reject reason (first broken rule), then
-- classify it kept / superseded / quarantined / pending per the contract's order of work.
with source as (

    select * from {{ source('shop', 'orders') }}

),

parsed as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ parse_timestamp('ordered_at') }} as ordered_at,
        {{ clean_code('status') }} as status,
        {{ parse_decimal('order_total') }} as order_total,
        {{ parse_decimal('discount_total') }} as discount_total,
        {{ parse_decimal('shipping_fee') }} as shipping_fee,
        {{ clean_code('order_channel') }} as order_channel,
        {{ parse_boolean('is_subscription') }} as is_subscription,
        {{ clean_text('subscription_id') }} as subscription_id,
        {{ parse_timestamp('updated_at') }} as updated_at,
        case
            when {{ clean_text('order_id') }} is null then 'missing order_id'
            when {{ clean_text('ordered_at') }} is null then 'missing ordered_at'
            when {{ is_unparseable('ordered_at', parse_timestamp('ordered_at')) }} then 'unparseable ordered_at'
            when {{ clean_code('status') }} is null then 'missing status'
            when {{ clean_code('status') }} not in ('completed', 'cancelled', 'returned', 'pending') then 'unknown status'
            when {{ clean_text('order_total') }} is null then 'missing order_total'
            when {{ is_unparseable('order_total', parse_decimal('order_total')) }} then 'unparseable order_total'
            when {{ parse_decimal('order_total') }} < 0 then 'negative order_total'
            when {{ is_unparseable('discount_total', parse_decimal('discount_total')) }} then 'unparseable discount_total'
            when {{ parse_decimal('discount_total') }} < 0 then 'negative discount_total'
            when {{ is_unparseable('shipping_fee', parse_decimal('shipping_fee')) }} then 'unparseable shipping_fee'
            when {{ parse_decimal('shipping_fee') }} < 0 then 'negative shipping_fee'
            when {{ is_unparseable('is_subscription', parse_boolean('is_subscription')) }} then 'unparseable is_subscription'
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
        coalesce(updated_at, ordered_at) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['order_id'], 'effective_at desc, _source_file desc, _row_number desc') }}

)

select * from outcome
