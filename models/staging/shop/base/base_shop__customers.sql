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

-- per consent column, on every row: whether a version at a known time after this one (later
-- in time, or at the same time and not loaded before it) does not count (quarantined or pending)
-- and does not say yes; and the latest load of such a version whose time is unknown
later_doubts as (

    select
        *,
        {%- for consent in ['email_opt_in', 'line_opt_in'] %}
        max(
            case
                when row_outcome in ('quarantined', 'pending') and effective_at is not null
                    and {{ consent_code(consent) }} != 1 then 1
                else 0
            end
        ) over (
            partition by customer_id
            order by effective_at, _loaded_at, case when row_outcome = 'kept' then 0 else 1 end
            rows between current row and unbounded following
        ) as {{ consent }}_doubted_later,
        max(
            case
                when row_outcome in ('quarantined', 'pending') and effective_at is null
                    and {{ consent_code(consent) }} != 1 then _loaded_at
            end
        ) over (partition by customer_id) as {{ consent }}_doubted_loaded_at{{ ',' if not loop.last }}
        {%- endfor %}
    from consent_ties

),

final as (

    select
        {%- for name in contract_column_names('customers').split(', ') %}
        {%- if name in ('email_opt_in', 'line_opt_in') %}
        case
            when row_outcome in ('kept', 'superseded') and {{ name }}_least != {{ name }}_most then false
            when row_outcome = 'kept'
                and ({{ name }}_doubted_later = 1 or {{ name }}_doubted_loaded_at >= _loaded_at) then false
            else {{ name }}
        end as {{ name }},
        {%- else %}
        {{ name }},
        {%- endif %}
        {%- endfor %}
        reject_reason,
        _source_file,
        _row_number,
        _loaded_at,
        effective_at,
        row_outcome
    from later_doubts

)

select * from final
