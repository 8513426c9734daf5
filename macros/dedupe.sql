{#- The contract's order of work for one raw table, after validation:
      reject_reason not null              -> 'quarantined'
      effective_at after as_of_date       -> 'pending'   (not known yet on the run's as_of date)
      first among its key                 -> 'kept'
      otherwise                           -> 'superseded'
    First means: by `newest_first` (e.g. 'effective_at desc'; empty for a table without a time),
    then the later load (`_loaded_at`: one value per ingest run, so a re-sent file wins whatever it
    is called), then, within one run, the file whose name sorts last, then the later row.
    `relation` must have reject_reason and effective_at columns. -#}
{% macro row_outcome(relation, key_columns, newest_first='') -%}
    {%- set order_by = (newest_first ~ ', ' if newest_first else '') ~ row_arrival_order() -%}
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

{#- the tie-break after the contract's time: later load, then file name, then row (newest first) -#}
{% macro row_arrival_order() -%}_loaded_at desc, _source_file desc, _row_number desc{%- endmacro %}
