-- One row per web/app session over every kept event loaded so far, whatever as_of_date: the
-- landing event, the funnel events it had, the customer its own events name, the order it
-- purchased (macro summarise_sessions). Incremental on DuckDB (decision 77): a run summarises
-- again only the sessions that received events since the last run, from all their events, so a
-- session across midnight or a late file is summarised whole. int_sessions reads this as of the
-- run's date.
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='session_id',
    on_schema_change='fail'
) }}

{#- An incremental run's new kept events (since the newest load summarised), used only there. -#}
{%- set new_events -%}
    (
        select session_id, occurred_at from {{ ref('base_shop__event_arrivals') }}
        where arrival_outcome = 'kept'
            and _loaded_at > {{ incremental_watermark('last_loaded_at') }}
    )
{%- endset %}
{#- The events to summarise, written as a subquery (not a CTE): summarise_sessions reads them
    twice, and DuckDB materialises a CTE read twice, which at 1M customers wrote 48M events to
    memory and disk before summarising them (decision 87). A subquery is a scan of the table. -#}
{%- set events -%}
    (
        select
            {{ staged_event_columns() }}
        from {{ ref('base_shop__event_arrivals') }}
        where arrival_outcome = 'kept'
        {% if is_incremental() %}
            -- the sessions that received events since the last run, with all their events
            and session_id in (select session_id from {{ new_events }} as new_events)
            -- each of those events is at or after its session's start as summarised before, or is
            -- one of the new events: the earliest of these bounds the scan to the row groups of
            -- the last days (zone maps) instead of every event (decision 97)
            and occurred_at >= (
                select min(starts.occurred_at) from (
                    select started_at as occurred_at from {{ this }}
                    where session_id in (select session_id from {{ new_events }} as new_events)
                    union all
                    select occurred_at from {{ new_events }} as new_events
                ) as starts
            )
        {% endif %}
    )
{%- endset %}

with final as (

    {#- a full build summarises every session, in var session_summary_buckets passes (decision
        91); a daily run only the few it touched, in one -#}
    {{ summarise_sessions(events, 1 if is_incremental() else var('session_summary_buckets')) }}

)

select * from final
