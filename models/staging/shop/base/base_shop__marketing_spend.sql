-- Marketing spend: parse and validate, keep one row per (spend_date, utm_source, utm_medium,
-- utm_campaign): a re-sent file (named to sort after the original) replaces, never double counts.
with source as (

    select * from {{ source('shop', 'marketing_spend') }}

),

parsed as (

    select
        {{ parse_date('spend_date') }} as spend_date,
        {{ clean_text('utm_source') }} as utm_source,
        {{ clean_text('utm_medium') }} as utm_medium,
        {{ clean_text('utm_campaign') }} as utm_campaign,
        {{ parse_decimal('spend') }} as spend,
        case
            when {{ clean_text('spend_date') }} is null then 'missing spend_date'
            when {{ is_unparseable('spend_date', parse_date('spend_date')) }} then 'unparseable spend_date'
            when {{ clean_text('utm_source') }} is null then 'missing utm_source'
            when {{ clean_text('utm_medium') }} is null then 'missing utm_medium'
            when {{ clean_text('spend') }} is null then 'missing spend'
            when {{ is_unparseable('spend', parse_decimal('spend')) }} then 'unparseable spend'
            when {{ parse_decimal('spend') }} < 0 then 'negative spend'
        end as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

with_effective as (

    select
        *,
        cast(spend_date as timestamp) as effective_at
    from parsed

),

outcome as (

    {{ row_outcome('with_effective', ['spend_date', 'utm_source', 'utm_medium', "coalesce(utm_campaign, '')"], '_source_file desc, _row_number desc') }}

)

select * from outcome
