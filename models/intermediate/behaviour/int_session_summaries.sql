-- One row per web/app session over every kept event loaded so far, whatever as_of_date: the
-- landing event, the funnel events it had, the customer its own events name, the order it
-- purchased (macro summarise_sessions). Incremental on DuckDB (decision log 77): a run summarises
-- again only the sessions that received events since the last run, from all their events, so a
-- session across midnight or a late file is summarised whole. int_sessions reads this as of the
-- run's date.
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='session_id',
    on_schema_change='fail'
) }}

with arrivals as (

    select * from {{ ref('base_shop__event_arrivals') }}
    where arrival_outcome = 'kept'

),

events as (

    select
        {{ staged_event_columns() }}
    from arrivals
    {% if is_incremental() %}
    -- the sessions that received events since the last run, with all their events
    where session_id in (
        select session_id from arrivals
        where _loaded_at > {{ incremental_watermark('last_loaded_at') }}
    )
    {% endif %}

),

final as (

    {{ summarise_sessions('events') }}

)

select * from final
