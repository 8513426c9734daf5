{#- The contact log (source `activation`, models/marts/activation/_activation__sources.yml): what
    each day's exports held and what became of each delivery, appended by Python when the exports
    are made (orchestration/activation/contact_log.py). Its columns are declared once, in the var
    `contact_log_tables` (dbt_project.yml), which the Python side reads too. Created empty when
    missing, on every run (on-run-start), so `dbt build` builds the marts that read it before any
    day is logged; no model writes it, so no build or full refresh rewrites a logged day.
    Plain DDL that DuckDB and Spark accept. -#}
{% macro create_contact_log_table() -%}
    {%- if execute -%}
        {%- do run_query("create schema if not exists activation") -%}
        {%- for table, columns in var('contact_log_tables').items() -%}
            {%- set declared = [] -%}
            {%- for name, data_type in columns.items() -%}
                {%- do declared.append(name ~ ' ' ~ data_type) -%}
            {%- endfor -%}
            {%- do run_query("create table if not exists activation." ~ table ~ " (" ~ declared | join(', ') ~ ")" ~ table_format_clause()) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
