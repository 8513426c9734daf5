{#- The raw contract, declared once in dbt_project.yml (var `raw_contract`): every column's type
    and rules, turned into the parsed columns and the reject reason of each base model. -#}

{% macro shop_contract(table_name) -%}
    {{ return(var('raw_contract')[table_name]) }}
{%- endmacro %}

{#- the typed value of one contract column (null when blank or unparseable) -#}
{% macro contract_parse(column) -%}
    {%- set kind = column['type'] -%}
    {%- if kind == 'code' -%}{{ clean_code(column['name']) }}
    {%- elif kind == 'timestamp' -%}{{ parse_timestamp(column['name']) }}
    {%- elif kind == 'date' -%}{{ parse_date(column['name']) }}
    {%- elif kind == 'decimal' -%}{{ parse_decimal(column['name']) }}
    {%- elif kind == 'integer' -%}{{ parse_integer(column['name']) }}
    {%- elif kind == 'boolean' -%}{{ parse_boolean(column['name']) }}
    {%- else -%}{{ clean_text(column['name']) }}
    {%- endif -%}
{%- endmacro %}

{#- the names of a table's personal-data columns (type personal): they never leave raw -#}
{% macro personal_columns(table_name) -%}
    {{ return(shop_contract(table_name)['columns'] | selectattr('type', 'equalto', 'personal')
              | map(attribute='name') | list) }}
{%- endmacro %}

{#- `<expr> as <name>,` for every contract column but personal data -#}
{% macro contract_parsed_columns(table_name) -%}
    {%- for column in shop_contract(table_name)['columns'] if column['type'] != 'personal' %}
        {{ contract_parse(column) }} as {{ column['name'] }},
    {%- endfor %}
{%- endmacro %}

{#- the names of those columns, comma-separated (a select list that keeps them as parsed) -#}
{% macro contract_column_names(table_name) -%}
    {%- for column in shop_contract(table_name)['columns'] if column['type'] != 'personal' -%}
        {{ column['name'] }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- The first rule a row breaks, column by column in contract order, as `case ... end`:
    missing, unparseable, unknown / negative / non-positive, implausible. A CSV line that could not
    be split into fields comes first. -#}
{% macro contract_reject_reason(table_name) -%}
    {%- set earliest = "cast('" ~ var('earliest_valid_date') ~ "' as timestamp)" -%}
    case
        when _malformed_line is not null then 'malformed csv line'
    {%- for column in shop_contract(table_name)['columns'] if column['type'] != 'personal' %}
        {%- set name = column['name'] -%}
        {%- set kind = column['type'] -%}
        {%- set parsed = contract_parse(column) -%}
        {%- if column.get('required') %}
        when {{ clean_text(name) }} is null then 'missing {{ name }}'
        {%- endif %}
        {%- if column.get('required_when') %}
        when {{ clean_code(column['required_when']['column']) }} = '{{ column['required_when']['equals'] }}'
            and {{ clean_text(name) }} is null then 'missing {{ name }}'
        {%- endif %}
        {%- if kind in ('timestamp', 'date', 'decimal', 'integer', 'boolean') %}
        when {{ is_unparseable(name, parsed) }} then 'unparseable {{ name }}'
        {%- endif %}
        {%- if column.get('allowed') %}
        when {{ parsed }} not in ('{{ column['allowed'] | join("', '") }}') then 'unknown {{ name }}'
        {%- endif %}
        {%- if column.get('min') is not none and column.get('min') == 0 %}
        when {{ parsed }} < 0 then 'negative {{ name }}'
        {%- endif %}
        {%- if column.get('positive') %}
        when {{ parsed }} <= 0 then 'non-positive {{ name }}'
        {%- endif %}
        {%- if column.get('max_var') %}
        when {{ parsed }} > {{ var(column['max_var']) }} then 'implausible {{ name }}'
        {%- endif %}
        {%- if kind in ('timestamp', 'date') %}
        when cast({{ parsed }} as timestamp) < {{ earliest }}
            or cast({{ parsed }} as date) > {{ add_days('cast(_loaded_at as date)', var('max_days_after_load')) }}
            then 'implausible {{ name }}'
        {%- endif %}
    {%- endfor %}
    end
{%- endmacro %}
