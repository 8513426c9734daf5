-- Marketing spend: parse and validate (rules in _shop__sources.yml); a re-sent file replaces the
-- rows of its (spend_date, source, medium, campaign) instead of adding to them.
with source as (

    select * from {{ source('shop', 'marketing_spend') }}

),

parsed as (

    select
        {{ contract_parsed_columns('marketing_spend') }}
        {{ contract_reject_reason('marketing_spend') }} as reject_reason,
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

    {{ row_outcome('with_effective', ['spend_date', 'utm_source', 'utm_medium', "coalesce(utm_campaign, '')"]) }}

)

select * from outcome
