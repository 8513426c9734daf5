-- One row per web/app session that started by as_of_date: landing event, channel, device, the
-- funnel steps it reached, the order it purchased and the known customer. A session reached a
-- step if it had that event or a later one (a purchase with no recorded cart still reached the
-- cart). The customer is the one the session's events name, else the one customer its
-- anonymous_id was ever seen with by as_of_date.
-- Sessions come summarised from int_session_summaries (incremental, every event loaded); a
-- session with events after as_of_date (a backfilled day, a session across the as_of midnight) is
-- summarised again from its events known by as_of_date, so the result is the same as summarising
-- stg_shop__events whole.
-- Incremental on DuckDB (decision 89): a run redoes only the sessions whose row can differ from
-- the last run's: re-summarised since (new events loaded), open at the last run's as_of_date or
-- started since, and those of an anonymous_id that met a customer in an event new to this run.
-- Every row records the run that wrote it (_as_of_date, _loaded_through, _rules_checksum, and
-- _written_at, when the dbt command started: what the unique test of session_id reads); when
-- as_of_date moves back the pre-hook empties the table, and when the channel rules or this model
-- change every session is redone, so the table always equals a rebuild as of the run's date.
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='session_id',
    on_schema_change='append_new_columns',
    pre_hook=["{{ sessions_add_state_columns() }}", "{{ sessions_forget_later_runs() }}"]
) }}
{#- Each input is read where it is used, not through a shared CTE: DuckDB materialises a CTE
    that is read twice (decision 87), which here copied 48M events or 21M sessions. -#}
{%- set rules_checksum = sessions_rules_checksum() %}
{%- set redo -%}
    {%- if is_incremental() -%}
        (select session_id from redo_sessions)
    {%- endif -%}
{%- endset %}
{%- set partial_events -%}
    (
        select * from {{ ref('stg_shop__events') }}
        where session_id in (
            select session_id from {{ ref('int_session_summaries') }}
            where started_at < {{ as_of_end() }}
                and ended_at >= {{ as_of_end() }}
                {% if redo %}and session_id in {{ redo }}{% endif %}
        )
    )
{%- endset %}

with

{% if is_incremental() %}
-- what the last run knew: its as_of_date and the newest event load it had summarised; `redo_all`
-- when the table is empty (as_of_date moved back) or was written under other channel rules
last_run as (

    select
        max(_as_of_date) as as_of_date,
        max(_loaded_through) as loaded_through,
        max(_as_of_date) is null
            or sum(case when _rules_checksum = '{{ rules_checksum }}' then 0 else 1 end) > 0 as redo_all
    from {{ this }}

),

-- devices that met a customer in an event this run knows and the last did not: their stitched
-- customer can change, so every session of theirs is redone
new_device_customers as (

    select distinct events.anonymous_id
    from {{ ref('stg_shop__events') }} as events
    cross join last_run
    where events.customer_id is not null
        and (
            events._loaded_at > last_run.loaded_through
            or cast(events.occurred_at as date) > last_run.as_of_date
        )

),

-- the sessions to redo, with their device (whose known customer is looked up below)
redo_sessions as (

    select summaries.session_id, summaries.anonymous_id
    from {{ ref('int_session_summaries') }} as summaries
    cross join last_run
    where summaries.started_at < {{ as_of_end() }}
        and (
            last_run.redo_all
            -- re-summarised since the last run
            or summaries.last_loaded_at > last_run.loaded_through
            -- open at the last run's as_of_date, or started since
            or cast(summaries.ended_at as date) > last_run.as_of_date
            or summaries.anonymous_id in (select anonymous_id from new_device_customers)
        )

),

{% endif %}
channels as (

    select * from {{ ref('int_channel_mapping') }}

),

-- sessions that started by as_of_date: summarised already when they ended by then; summarised
-- again from the events known by as_of_date when they have later events
summarised as (

    select * from {{ ref('int_session_summaries') }}
    where started_at < {{ as_of_end() }}
        and ended_at < {{ as_of_end() }}
        {% if redo %}and session_id in {{ redo }}{% endif %}
    union all
    {{ summarise_sessions(partial_events) }}

),

-- an anonymous_id seen with exactly one customer identifies that customer's other sessions
known_devices as (

    select
        anonymous_id,
        max(customer_id) as customer_id
    from {{ ref('stg_shop__events') }}
    where customer_id is not null
        {% if redo -%}
        and anonymous_id in (select anonymous_id from redo_sessions)
        {%- endif %}
    group by anonymous_id
    having count(distinct customer_id) = 1

),

final as (

    select
        summarised.session_id,
        summarised.started_at,
        summarised.ended_at,
        summarised.session_date,
        coalesce(channels.channel, 'other') as channel,
        summarised.device,
        summarised.utm_source,
        summarised.utm_medium,
        summarised.utm_campaign,
        coalesce(summarised.customer_id, known_devices.customer_id) as customer_id,
        summarised.customer_id is null and known_devices.customer_id is not null as is_customer_stitched,
        summarised.had_product_view + summarised.had_add_to_cart + summarised.had_checkout_start + summarised.had_purchase > 0 as has_product_view,
        summarised.had_add_to_cart + summarised.had_checkout_start + summarised.had_purchase > 0 as has_add_to_cart,
        summarised.had_checkout_start + summarised.had_purchase > 0 as has_checkout_start,
        summarised.had_purchase > 0 as has_purchase,
        summarised.had_add_to_cart + summarised.had_checkout_start + summarised.had_purchase > 0
            and summarised.had_purchase = 0 as is_cart_abandoned,
        summarised.order_id,
        summarised.count_events,
        -- the run that wrote the row (read by the next run, above)
        {{ as_of_date() }} as _as_of_date,
        (select max(summaries.last_loaded_at) from {{ ref('int_session_summaries') }} as summaries) as _loaded_through,
        '{{ rules_checksum }}' as _rules_checksum,
        {{ run_started_at_timestamp() }} as _written_at
    from summarised
    left join channels
        on summarised.source_key = channels.source_key
        and summarised.medium_key = channels.medium_key
    left join known_devices
        on summarised.anonymous_id = known_devices.anonymous_id

)

select * from final
