-- One row per raw events row that broke the contract: raw values, reason, source file and row.
-- Incremental on DuckDB (decision 77): an event's arrival is quarantined once and for good
-- (base_shop__event_arrivals), so a run adds the quarantined rows loaded since its last one and reads
-- only those raw rows, never the whole history of events.
{{ config(materialized=incremental_materialization(), incremental_strategy='append', on_schema_change='fail') }}
{%- set loaded_after = incremental_watermark('_loaded_at') if is_incremental() else none %}
{%- set reasons -%}
    select _source_file, _row_number, reject_reason
    from {{ ref('base_shop__events') }}
    where row_outcome = 'quarantined'
    {% if loaded_after is not none %}and _loaded_at > {{ loaded_after }}{% endif %}
{%- endset %}
{{ quarantine_rows('events', reasons, loaded_after) }}
