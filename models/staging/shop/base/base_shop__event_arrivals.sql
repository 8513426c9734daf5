-- Events as they arrived: every raw events row once, parsed and validated (rules in the contract),
-- classified quarantined / kept / superseded independently of as_of_date. Events never change: the
-- first arrival of an event_id wins (loaded first, then the file that sorts first, then the earlier
-- row). Incremental on DuckDB (decision log 77): a run reads only the raw rows loaded since the
-- last one and checks their event_ids against the events already kept, so a day's refresh never
-- re-reads the whole history. base_shop__events adds the as_of_date view of these rows.
{{ config(materialized=incremental_materialization(), incremental_strategy='append', on_schema_change='fail') }}

with source as (

    select * from {{ source('shop', 'events') }}
    {% if is_incremental() %}
    where _loaded_at > {{ incremental_watermark('_loaded_at') }}
    {% endif %}

),

parsed as (

    select
        {{ contract_parsed_columns('events') }}
        {{ contract_reject_reason('events') }} as reject_reason,
        _source_file,
        _row_number,
        _loaded_at

    from source

),

-- event_ids of this batch that an earlier run already kept (none in a full build)
already_kept as (

    {% if is_incremental() %}
    select event_id
    from {{ this }}
    where arrival_outcome = 'kept'
        and event_id in (select event_id from parsed)
    {% else %}
    select event_id from parsed where 1 = 0
    {% endif %}

),

ranked as (

    select
        parsed.*,
        already_kept.event_id is not null as is_already_kept,
        row_number() over (
            partition by parsed.event_id, case when parsed.reject_reason is null then 1 else 0 end
            order by parsed._loaded_at, parsed._source_file, parsed._row_number
        ) as arrival_rank
    from parsed
    left join already_kept
        on parsed.event_id = already_kept.event_id

),

final as (

    select
        {{ contract_column_names('events') }},
        reject_reason,
        _source_file,
        _row_number,
        _loaded_at,
        case
            when reject_reason is not null then 'quarantined'
            when not is_already_kept and arrival_rank = 1 then 'kept'
            else 'superseded'
        end as arrival_outcome
    from ranked

)

select * from final
