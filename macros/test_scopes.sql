{#- What the `unique_incremental` tests have already checked (decision 153). An incremental model's
    daily run adds or rewrites few of its rows, and each row carries a stamp that is later for every
    row a later run writes (the load time of an event; when the dbt command that wrote a session
    started). Once the test passed, every key of a row stamped up to the newest stamp was unique;
    the next run checks only the keys of rows stamped after it, against every row.

    One row per test, in intermediate.data_test_watermarks: the tested model's relation, the key
    column and the newest stamp of the last run whose test passed. A run whose test fails, errors or
    is skipped forgets it, so the next run checks every row again; so does a rebuild of the model
    (macro forget_test_watermarks, a pre-hook of a model whose rebuild keeps its rows' stamps).
    On an engine where these models are tables (Spark), nothing is kept and every run checks every
    row. -#}

{% macro test_watermarks_relation() -%}
    {{- return(api.Relation.create(database=target.database, schema='intermediate',
                                   identifier='data_test_watermarks')) -}}
{%- endmacro %}

{#- The newest stamp of `model` that a passing `unique_incremental` test of `column_name` saw, as a
    timestamp literal, or none when every row is to be checked. -#}
{% macro tested_through(model, column_name) -%}
    {%- if not execute or incremental_materialization() != 'incremental' or flags.FULL_REFRESH -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set state = load_relation(test_watermarks_relation()) -%}
    {%- if state is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set found = run_query(
        "select cast(tested_through as " ~ dbt.type_string() ~ ") from " ~ state
        ~ " where model_relation = '" ~ model.identifier ~ "' and column_name = '" ~ column_name ~ "'"
        ~ " and tested_through is not null") -%}
    {%- if found.rows | length == 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return("cast('" ~ found.rows[0][0] ~ "' as timestamp)") -}}
{%- endmacro %}

{#- on-run-end: remember, for each `unique_incremental` test of this run, the newest stamp of its
    model when it passed, or forget it when it did not pass. -#}
{% macro save_test_watermarks(results) -%}
    {%- if execute and incremental_materialization() == 'incremental' -%}
        {%- set statements = [] -%}
        {%- for result in results
                if result.node.resource_type == 'test' and result.node.test_metadata is defined
                and result.node.test_metadata is not none
                and result.node.test_metadata.name == 'unique_incremental' -%}
            {%- set tested = graph.nodes[result.node.attached_node] -%}
            {%- set column_name = result.node.test_metadata.kwargs['column_name'] -%}
            {%- set stamp_column = result.node.test_metadata.kwargs['stamp_column'] -%}
            {%- do statements.append(
                "delete from " ~ test_watermarks_relation() ~ " where model_relation = '" ~ tested.alias
                ~ "' and column_name = '" ~ column_name ~ "'") -%}
            {%- if result.status == 'pass' -%}
                {%- do statements.append(
                    "insert into " ~ test_watermarks_relation()
                    ~ " select '" ~ tested.alias ~ "', '" ~ column_name ~ "', max(" ~ stamp_column ~ ")"
                    ~ " from " ~ api.Relation.create(database=tested.database, schema=tested.schema,
                                                      identifier=tested.alias)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if statements -%}
            {%- do run_query("create table if not exists " ~ test_watermarks_relation()
                             ~ " (model_relation " ~ dbt.type_string() ~ ", column_name " ~ dbt.type_string()
                             ~ ", tested_through timestamp)") -%}
            {%- for statement in statements -%}
                {%- do run_query(statement) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- pre-hook of a model whose rebuild keeps its rows' stamps (a full refresh of the event arrivals):
    what its tests checked no longer holds for the new rows. -#}
{% macro forget_test_watermarks() -%}
    {%- if execute and incremental_materialization() == 'incremental' and not is_incremental()
          and load_relation(test_watermarks_relation()) is not none -%}
        delete from {{ test_watermarks_relation() }} where model_relation = '{{ this.identifier }}'
    {%- endif -%}
{%- endmacro %}
