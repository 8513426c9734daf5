{#- The tables the Python fits write (orchestration/predict/fit.py: FITS_COLUMNS, SCORES_COLUMNS)
    and the dbt project reads as the source `model_fits`. Created empty when missing, on every
    run (on-run-start), so `dbt build` alone builds every mart before any fit: the prediction
    marts come out empty and clv_model says how to fit. Plain DDL that DuckDB and Spark accept. -#}
{% macro create_model_fits_tables() -%}
    {%- if execute -%}
        {%- set statements = [
            "create schema if not exists model_fits",
            "create table if not exists model_fits.clv_fits (as_of_date date, fit string, status string, status_reason string, count_customers bigint, count_repeat_customers bigint, r double, alpha double, a double, b double, log_likelihood double, gg_p double, gg_q double, gg_gamma double, gg_log_likelihood double, fit_seconds double, fitted_at timestamp)",
            "create table if not exists model_fits.clv_scores (as_of_date date, fit string, customer_id string, p_alive double, expected_purchases_30d double, expected_purchases_90d double, expected_purchases_365d double, expected_purchases_holdout double, expected_purchases_horizon double, expected_order_value double, expected_days_between_purchases double)",
        ] -%}
        {%- for sql in statements -%}
            {%- do run_query(sql) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
