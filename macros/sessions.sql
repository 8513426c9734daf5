{#- Events and sessions: each rule written once, used by the as_of_date models (stg_shop__events,
    int_sessions) and by the incremental session summaries (int_session_summaries). -#}

{#- A kept event's staged columns, from a base events relation's parsed columns. -#}
{% macro staged_event_columns() -%}
        event_id,
        session_id,
        anonymous_id,
        customer_id,
        event_type,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        product_id,
        order_id,
        utm_source,
        utm_medium,
        utm_campaign,
        {{ channel_key('utm_source') }} as source_key,
        {{ channel_key('utm_medium') }} as medium_key,
        coalesce(device, 'unknown') as device,
        _source_file,
        _loaded_at
{%- endmacro %}

{#- One row per session of `events` (a relation, or a subquery `(select ...)` without an alias, of
    staged event columns; it is read twice, so not a CTE: DuckDB would materialise it, decision 87):
    the landing event (first by occurred_at, then event_id), the funnel events it had, the customer
    its own events name, the purchased order, the last event and the newest load it holds. One
    group-by finds the landing event's id (`first_row`) with the other aggregates; the landing
    event's columns are then joined by that id (event_id is unique among kept events). Ranking every
    event with a window and joining rank 1 back, or carrying every landing column through the
    aggregate, took 52 s and 49 s against 38 s at 1M customers (decision 88). A session reached a step if it
    had that event or a later one: that rule is applied by int_sessions. -#}
{% macro summarise_sessions(events, buckets=1) -%}
{#- In `buckets` passes, each over the sessions of one hash bucket of session_id (all of a
    session's events, its landing event included, share its bucket), joined by `union all`: a pass
    holds 1/buckets of the sessions in memory. At 1M customers one pass over 48M events needed
    about 6 GB and spilled under the 4GB default (decision 91). -#}
{%- set buckets = buckets | int %}
{%- if buckets < 1 %}
{{- exceptions.raise_compiler_error("session summaries need at least one pass: var session_summary_buckets is " ~ buckets) }}
{%- endif %}
{%- for bucket in range(buckets) %}
{%- set bucket_events -%}
    {%- if buckets > 1 -%}
    (select * from {{ events }} as all_events where {{ hash_bucket('session_id', buckets) }} = {{ bucket }})
    {%- else -%}
    {{ events }}
    {%- endif -%}
{%- endset %}
    select
        steps.session_id,
        landing.occurred_at as started_at,
        steps.ended_at,
        landing.occurred_date as session_date,
        landing.anonymous_id,
        landing.device,
        landing.utm_source,
        landing.utm_medium,
        landing.utm_campaign,
        landing.source_key,
        landing.medium_key,
        steps.customer_id,
        steps.had_product_view,
        steps.had_add_to_cart,
        steps.had_checkout_start,
        steps.had_purchase,
        steps.order_id,
        steps.count_events,
        steps.last_loaded_at
    from (
        select
            session_id,
            {{ struct_field(first_row(['occurred_at', 'event_id']), 'event_id') }} as landing_event_id,
            max(customer_id) as customer_id,
            max(case when event_type = 'product_view' then 1 else 0 end) as had_product_view,
            max(case when event_type = 'add_to_cart' then 1 else 0 end) as had_add_to_cart,
            max(case when event_type = 'checkout_start' then 1 else 0 end) as had_checkout_start,
            max(case when event_type = 'purchase' then 1 else 0 end) as had_purchase,
            max(case when event_type = 'purchase' then order_id end) as order_id,
            max(occurred_at) as ended_at,
            cast(count(*) as bigint) as count_events,
            max(_loaded_at) as last_loaded_at
        from {{ bucket_events }} as step_events
        group by session_id
    ) as steps
    inner join {{ bucket_events }} as landing
        on steps.landing_event_id = landing.event_id
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
{%- endmacro %}

{#- int_sessions' incremental state (decision 89). A fingerprint of what maps a session's
    summary to its row besides the data: the seed channel_rules, int_channel_mapping and int_sessions
    itself (dbt's checksums of their files). A row written under another fingerprint makes the next
    run redo every session. Changes to the macros of this file need `--full-refresh`, as for every
    incremental model. -#}
{% macro sessions_rules_checksum() -%}
    {{- return(local_md5(file_checksums(['channel_rules', 'int_channel_mapping', 'int_sessions']) | join('|'))) -}}
{%- endmacro %}

{#- int_sessions' first pre-hook: a table built before it was incremental lacks the state columns;
    added empty, they make the run redo every session. -#}
{% macro sessions_add_state_columns() -%}
    {%- if is_incremental() -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- set statements = [] -%}
        {%- for name, type in [('_as_of_date', 'date'), ('_loaded_through', 'timestamp'), ('_rules_checksum', 'varchar'),
                              ('_written_at', 'timestamp')]
                if name not in names -%}
            {%- do statements.append('alter table ' ~ this ~ ' add column ' ~ name ~ ' ' ~ type) -%}
        {%- endfor -%}
        {{- statements | join(';\n') -}}
    {%- endif -%}
{%- endmacro %}

{#- int_sessions' second pre-hook: when as_of_date moved back (a run for an earlier day than the
    last), or the rows have no state (a table from before decision 89), forget every row, so the
    run redoes all and no session that started after as_of_date stays. -#}
{% macro sessions_forget_later_runs() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where coalesce((select max(_as_of_date) from {{ this }}) > {{ as_of_date() }}, true)
    {%- endif -%}
{%- endmacro %}
