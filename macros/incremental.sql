{#- Incremental models (decision 77). On DuckDB a model built from append-only inputs adds only
    what arrived since its last run; on Spark the same SQL is built whole (materialized table): the
    `is_incremental()` branches are skipped there, so one SQL serves both engines and a full
    rebuild (`dbt build --full-refresh`, or a fresh database) always gives the same rows. -#}
{% macro incremental_materialization() -%}
    {{- return('incremental' if target.type == 'duckdb' else 'table') -}}
{%- endmacro %}

{#- The newest `column` already in this model's table (the incremental watermark), or a time before
    any data when the table is empty. Used where `is_incremental()`.
    Read when the model is compiled (dbt compiles a node just before it runs, after its inputs are
    built) and written into the SQL as a literal (decision 155): a filter on a literal skips the
    Parquet row groups and table blocks whose `column` is all older, where a filter on a subquery
    read every row of the input. A unit test's `this` is a fixture, not a table: there the subquery. -#}
{% macro incremental_watermark(column) -%}
    {%- if execute and is_incremental() and model.resource_type != 'unit_test' -%}
        {%- set newest = run_query("select cast(max(" ~ column ~ ") as " ~ dbt.type_string() ~ ") from " ~ this) -%}
        cast('{{ newest.rows[0][0] if newest.rows[0][0] is not none else "1900-01-01 00:00:00" }}' as timestamp)
    {%- else -%}
        (select coalesce(max({{ column }}), cast('1900-01-01 00:00:00' as timestamp)) from {{ this }})
    {%- endif -%}
{%- endmacro %}

{#- dbt's checksums of the files of this project's models and seeds named in `names`, as sorted
    `name:checksum` texts: the file part of an incremental model's fingerprint (decisions 89, 152). -#}
{% macro file_checksums(names) -%}
    {%- set parts = [] -%}
    {%- if execute -%}
        {%- for node in (graph.get('nodes') or {}).values()
                if node.resource_type in ['seed', 'model'] and node.package_name == project_name
                and node.name in names -%}
            {%- do parts.append(node.name ~ ':' ~ node.checksum.checksum) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(parts | sort) -}}
{%- endmacro %}

{#- When this dbt command started (UTC), as a timestamp: a stamp that is later for every later run. -#}
{% macro run_started_at_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}
