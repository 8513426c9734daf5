{#- The contract's order of work for one raw table, after validation:
      reject_reason not null              -> 'quarantined'
      effective_at after as_of_date       -> 'pending'   (not known yet on the run's as_of date)
      first by (order_by) among its key   -> 'kept'
      otherwise                           -> 'superseded'
    `relation` must have reject_reason and effective_at columns. -#}
{% macro row_outcome(relation, key_columns, order_by) -%}
    select
        *,
        case
            when reject_reason is not null then 'quarantined'
            when effective_at >= {{ as_of_end() }} then 'pending'
            when row_number() over (
                partition by {{ key_columns | join(', ') }},
                    case when reject_reason is null and (effective_at is null or effective_at < {{ as_of_end() }}) then 1 else 0 end
                order by {{ order_by }}
            ) = 1 then 'kept'
            else 'superseded'
        end as row_outcome
    from {{ relation }}
{%- endmacro %}
