{#- The run's reference date. var('as_of_date') (YYYY-MM-DD) or, when null, today in the business
    time zone. Computed once at compile time, so every model of a run sees the same date and the
    SQL holds a literal: the same on every engine. -#}
{% macro as_of_date_text() -%}
    {%- set configured = var('as_of_date', none) -%}
    {%- if configured is none or (configured | string | trim) in ('', 'None', 'null', 'today') -%}
        {%- set tz = modules.pytz.timezone(var('business_timezone')) -%}
        {{- return(modules.datetime.datetime.now(tz).strftime('%Y-%m-%d')) -}}
    {%- endif -%}
    {%- set text = configured | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var as_of_date must be a date YYYY-MM-DD (or null for today); got '" ~ text ~ "'. Pass e.g. --vars '{as_of_date: 2025-06-30}'.") }}
    {%- endif -%}
    {{- return(text) -}}
{%- endmacro %}

{#- as_of_date as a SQL date. -#}
{% macro as_of_date() -%}
    cast('{{ as_of_date_text() }}' as date)
{%- endmacro %}

{#- First instant after as_of_date (exclusive upper bound for timestamps known by as_of). -#}
{% macro as_of_end() -%}
    {%- set d = modules.datetime.datetime.strptime(as_of_date_text(), '%Y-%m-%d') + modules.datetime.timedelta(days=1) -%}
    cast('{{ d.strftime("%Y-%m-%d") }} 00:00:00' as timestamp)
{%- endmacro %}
