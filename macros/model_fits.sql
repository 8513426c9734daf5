{#- The tables the Python fits write and the dbt project reads as the source `model_fits`
    (models/marts/predictions/_predictions__sources.yml): clv_fits, clv_scores (BG/NBD +
    Gamma-Gamma, orchestration/predict/fit.py) and retention_fits (sBG retention,
    orchestration/predict/sbg.py). Their columns and types are declared once, in the var
    `model_fits_tables` (dbt_project.yml), which the Python fits read too
    (orchestration/predict/tables.py).
    The Dagster asset `model_fits` writes them between the two dbt steps. They are created empty
    when missing, on every run (on-run-start), so `dbt build` alone builds every mart before any
    fit: the prediction marts come out empty, clv_model says how to fit, projections are null.
    Plain DDL that DuckDB and Spark accept. -#}
{% macro model_fits_tables() -%}
    {%- set tables = {} -%}
    {%- for table, columns in var('model_fits_tables').items() -%}
        {%- set declared = [] -%}
        {%- for name, data_type in columns.items() -%}
            {%- do declared.append(name ~ ' ' ~ data_type) -%}
        {%- endfor -%}
        {%- do tables.update({table: declared | join(', ')}) -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{% macro create_model_fits_tables() -%}
    {%- if execute -%}
        {%- do run_query("create schema if not exists model_fits") -%}
        {%- for table, columns in model_fits_tables().items() -%}
            {%- do run_query("create table if not exists model_fits." ~ table ~ " (" ~ columns ~ ")" ~ table_format_clause()) -%}
            {%- do add_model_fits_columns(table) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- A table made by an earlier version gets the columns declared since (at the end, where the Python
    fits' migration puts them too: orchestration/predict/tables.py). -#}
{% macro add_model_fits_columns(table) -%}
    {{ return(adapter.dispatch('add_model_fits_columns', 'crm_warehouse')(table)) }}
{%- endmacro %}

{% macro default__add_model_fits_columns(table) -%}
    {%- for name, data_type in var('model_fits_tables')[table].items() -%}
        {%- do run_query("alter table model_fits." ~ table ~ " add column if not exists " ~ name ~ " " ~ data_type) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spark__add_model_fits_columns(table) -%}
    {%- set relation = api.Relation.create(schema='model_fits', identifier=table, type='table') -%}
    {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- for name, data_type in var('model_fits_tables')[table].items() if name not in existing -%}
        {%- do run_query("alter table model_fits." ~ table ~ " add columns (" ~ name ~ " " ~ data_type ~ ")") -%}
    {%- endfor -%}
{%- endmacro %}

{#- `using parquet` on Spark (a data-source table, not a Hive one); nothing elsewhere -#}
{% macro table_format_clause() -%}
    {{ return(adapter.dispatch('table_format_clause', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__table_format_clause() -%}{{ return("") }}{%- endmacro %}

{% macro spark__table_format_clause() -%}{{ return(" using parquet") }}{%- endmacro %}

{#- The sBG fits of this as_of_date a projection can use (orchestration/predict/sbg.py): pooled over
    start cohorts, with status `fitted` or `geometric` (the limit where churn shows no
    heterogeneity) and positive parameters. Read by int_subscription_projections and
    int_subscriber_deliveries. -#}
{% macro usable_retention_fits() -%}
    select
        acquisition_channel,
        product_id,
        offer_code,
        status,
        alpha,
        beta
    from {{ source('model_fits', 'retention_fits') }}
    where as_of_date = {{ as_of_date() }}
        and status in ('fitted', 'geometric')
        and cohort_month = 'all'
        and alpha > 0
        and beta > 0
{%- endmacro %}
