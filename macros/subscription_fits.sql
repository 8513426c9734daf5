{#- The table the sBG retention fit (orchestration/predict/sbg.py) writes and subscription_retention
    reads (source subscription_fits.retention_fits). Created empty when missing, so that `dbt build`
    before any fit still builds every mart (projections are then null). Columns must match
    sbg.FIT_COLUMNS. -#}

{% macro create_model_fits_schema() -%}
    create schema if not exists model_fits
{%- endmacro %}

{% macro create_retention_fits_table() -%}
    {{ return(adapter.dispatch('create_retention_fits_table', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro retention_fit_column_list(string_type) -%}
    as_of_date date, cohort_month {{ string_type }}, acquisition_channel {{ string_type }},
    product_id {{ string_type }}, offer_code {{ string_type }}, status {{ string_type }},
    status_reason {{ string_type }}, count_subscriptions bigint, alpha double, beta double,
    log_likelihood double, fitted_at timestamp
{%- endmacro %}

{% macro default__create_retention_fits_table() -%}
    create table if not exists model_fits.retention_fits ({{ retention_fit_column_list('varchar') }})
{%- endmacro %}

{% macro spark__create_retention_fits_table() -%}
    create table if not exists model_fits.retention_fits ({{ retention_fit_column_list('string') }}) using parquet
{%- endmacro %}
