{#- The tables the Python fits write and the dbt project reads as the source `model_fits`
    (models/marts/predictions/_predictions__sources.yml):
      clv_fits, clv_scores  BG/NBD + Gamma-Gamma (orchestration/predict/fit.py: FITS_COLUMNS, SCORES_COLUMNS)
      retention_fits        sBG retention (orchestration/predict/sbg.py: FIT_COLUMNS)
    The Dagster asset `model_fits` writes them between the two dbt steps. They are created empty
    when missing, on every run (on-run-start), so `dbt build` alone builds every mart before any
    fit: the prediction marts come out empty, clv_model says how to fit, projections are null.
    Plain DDL that DuckDB and Spark accept; the column lists must equal the Python ones
    (orchestration/tests/test_predict_bgnbd.py and test_sbg.py compare them). -#}
{% macro model_fits_tables() -%}
    {{ return({
        "clv_fits": "as_of_date date, fit string, status string, status_reason string, count_customers bigint, count_repeat_customers bigint, r double, alpha double, a double, b double, log_likelihood double, gg_p double, gg_q double, gg_gamma double, gg_log_likelihood double, fit_seconds double, fitted_at timestamp",
        "clv_scores": "as_of_date date, fit string, customer_id string, p_alive double, expected_purchases_30d double, expected_purchases_90d double, expected_purchases_365d double, expected_purchases_holdout double, expected_purchases_horizon double, expected_order_value double, expected_days_between_purchases double",
        "retention_fits": "as_of_date date, cohort_month string, acquisition_channel string, product_id string, offer_code string, status string, status_reason string, count_subscriptions bigint, alpha double, beta double, log_likelihood double, fitted_at timestamp",
    }) }}
{%- endmacro %}

{% macro create_model_fits_tables() -%}
    {%- if execute -%}
        {%- do run_query("create schema if not exists model_fits") -%}
        {%- for table, columns in model_fits_tables().items() -%}
            {%- do run_query("create table if not exists model_fits." ~ table ~ " (" ~ columns ~ ")" ~ table_format_clause()) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- `using parquet` on Spark (a data-source table, not a Hive one); nothing elsewhere -#}
{% macro table_format_clause() -%}
    {{ return(adapter.dispatch('table_format_clause', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__table_format_clause() -%}{{ return("") }}{%- endmacro %}

{% macro spark__table_format_clause() -%}{{ return(" using parquet") }}{%- endmacro %}
