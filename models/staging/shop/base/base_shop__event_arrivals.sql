-- Events as they arrived: every raw events row once, parsed and validated (rules in the contract),
-- classified quarantined / kept / superseded independently of as_of_date. Events never change: the
-- first arrival of an event_id wins (loaded first, then the file that sorts first, then the earlier
-- row). Incremental on DuckDB (decision 77): a run reads only the raw rows loaded since the
-- last one and checks their event_ids against the events already kept, so a day's refresh never
-- re-reads the whole history. base_shop__events adds the as_of_date view of these rows.
-- Only the event_ids that arrive more than once in the batch are ranked (decision 87): ranking
-- every row sorted the whole batch (48M rows at 1M customers) to find a few hundred thousand
-- re-sent events.
{#- a rebuild keeps each row's _loaded_at: what the unique test of event_id checked no longer holds -#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_test_watermarks() }}"
) }}

{#- the raw rows of this run, written as a subquery (not a CTE) so that each use below is a scan
    of the raw table, never a materialised copy of the parsed rows -#}
{%- set batch -%}
    (
        select * from {{ source('shop', 'events') }}
        {% if is_incremental() %}
        where _loaded_at > {{ incremental_watermark('_loaded_at') }}
        {% endif %}
    ) as batch
{%- endset %}

with parsed as (

    select
        {{ contract_parsed_columns('events') }}
        {{ contract_reject_reason('events') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from {{ batch }}

),

-- event_ids that arrive more than once in this batch (a re-sent file, a duplicated row)
repeated as (

    select {{ clean_text('event_id') }} as event_id
    from {{ batch }}
    group by {{ clean_text('event_id') }}
    having count(*) > 1

),

-- for each of them, its first arrival that passes the contract (when there is one): valid rows
-- first, then by load, file and row. The contract is checked only on these rows.
first_arrivals as (

    select event_id, _loaded_at, _source_file, _row_number
    from (
        select
            event_id,
            _loaded_at,
            _source_file,
            _row_number,
            row_number() over (
                partition by event_id
                order by is_valid desc, _loaded_at, _source_file, _row_number
            ) as arrival_rank
        from (
            select
                {{ clean_text('event_id') }} as event_id,
                _loaded_at,
                _source_file,
                _row_number,
                case when {{ contract_reject_reason('events') }} is null then 1 else 0 end as is_valid
            from {{ batch }}
            where {{ clean_text('event_id') }} in (select repeated.event_id from repeated)
        ) as candidates
    ) as ranked
    where arrival_rank = 1

),

-- event_ids of this batch that an earlier run already kept (none in a full build)
already_kept as (

    {% if is_incremental() %}
    select event_id
    from {{ this }}
    where arrival_outcome = 'kept'
        and event_id in (select {{ clean_text('event_id') }} from {{ batch }})
    {% else %}
    select cast(null as {{ dbt.type_string() }}) as event_id
    from {{ batch }}
    where 1 = 0
    {% endif %}

),

final as (

    select
        {% for name in contract_column_names('events').split(', ') -%}
        parsed.{{ name }},
        {% endfor -%}
        parsed.reject_reason,
        parsed._source_file,
        parsed._row_number,
        parsed._loaded_at,
        case
            when parsed.reject_reason is not null then 'quarantined'
            when already_kept.event_id is not null then 'superseded'
            -- unique in the batch, or its first valid arrival
            when first_arrivals.event_id is null
                or (parsed._loaded_at = first_arrivals._loaded_at
                    and parsed._source_file = first_arrivals._source_file
                    and parsed._row_number = first_arrivals._row_number)
                then 'kept'
            else 'superseded'
        end as arrival_outcome
    from parsed
    left join first_arrivals
        on parsed.event_id = first_arrivals.event_id
    left join already_kept
        on parsed.event_id = already_kept.event_id

)

select * from final
