-- Customers: parse and validate (rules in the var raw_contract), keep the latest version per
-- customer_id. Personal data (type personal in the contract) is not selected: it stays in raw.
-- Consent fails safe: where versions of a customer tie on their time and load (only the file name
-- or the row would decide), a consent they do not all give is no consent (false); and a version
-- that comes after the kept one but does not count (it breaks the contract, or it is dated after
-- as_of_date) withdraws a consent it does not give (decision 157).
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

    {{ row_outcome('with_effective', ['customer_id'], 'effective_at desc') }}

),

-- per consent column: the smallest and largest answer (1 yes, 0 no, -1 unknown) among the valid
-- versions that tie with each other on time and load
consent_ties as (

    select
        *,
        {%- for consent in ['email_opt_in', 'line_opt_in'] %}
        min({{ consent_code(consent) }}) over (partition by customer_id, effective_at, _loaded_at,
            row_outcome in ('kept', 'superseded')) as {{ consent }}_least,
        max({{ consent_code(consent) }}) over (partition by customer_id, effective_at, _loaded_at,
            row_outcome in ('kept', 'superseded')) as {{ consent }}_most{{ ',' if not loop.last }}
        {%- endfor %}
    from outcome

),

-- per consent column: 1 where a version after the kept one (later in time, or at the same or an
-- unknown time and not loaded before it) is quarantined or pending and does not say yes
later_doubts as (

    select
        kept.customer_id,
        {%- for consent in ['email_opt_in', 'line_opt_in'] %}
        max(case when {{ consent_code('later.' ~ consent) }} = 1 then 0 else 1 end) as {{ consent }}_doubted
        {{- ',' if not loop.last }}
        {%- endfor %}
    from outcome as kept
    inner join outcome as later
        on kept.customer_id = later.customer_id
    where kept.row_outcome = 'kept'
        and later.row_outcome in ('quarantined', 'pending')
        and (
            later.effective_at > kept.effective_at
            or (
                (later.effective_at is null or later.effective_at = kept.effective_at)
                and later._loaded_at >= kept._loaded_at
            )
        )
    group by kept.customer_id

),

final as (

    select
        {%- for name in contract_column_names('customers').split(', ') %}
        {%- if name in ('email_opt_in', 'line_opt_in') %}
        case
            when consent_ties.row_outcome in ('kept', 'superseded')
                and consent_ties.{{ name }}_least != consent_ties.{{ name }}_most then false
            when later_doubts.{{ name }}_doubted = 1 then false
            else consent_ties.{{ name }}
        end as {{ name }},
        {%- else %}
        consent_ties.{{ name }},
        {%- endif %}
        {%- endfor %}
        consent_ties.reject_reason,
        consent_ties._source_file,
        consent_ties._row_number,
        consent_ties._loaded_at,
        consent_ties.effective_at,
        consent_ties.row_outcome
    from consent_ties
    left join later_doubts
        on consent_ties.customer_id = later_doubts.customer_id
        and consent_ties.row_outcome = 'kept'

)

select * from final
