{#- Contract parsing helpers used by the staging base models. Each returns null for a blank or an
    unparseable value; the base model compares with the cleaned text to tell "missing" from
    "unparseable". -#}

{#- trimmed text, blank -> null -#}
{% macro clean_text(col) -%}nullif(trim({{ col }}), ''){%- endmacro %}

{#- trimmed, lower-cased text, blank -> null (status, event type, device: case-insensitive) -#}
{% macro clean_code(col) -%}nullif(lower(trim({{ col }})), ''){%- endmacro %}

{% macro parse_decimal(col) -%}{{ try_cast(clean_text(col), 'decimal(18,2)') }}{%- endmacro %}

{% macro parse_integer(col) -%}{{ try_cast(clean_text(col), 'bigint') }}{%- endmacro %}

{% macro parse_date(col) -%}{{ try_cast(clean_text(col), 'date') }}{%- endmacro %}

{% macro parse_timestamp(col) -%}{{ to_business_timestamp(clean_text(col)) }}{%- endmacro %}

{% macro parse_boolean(col) -%}
    case
        when {{ clean_code(col) }} in ('true', 't', '1', 'yes', 'y') then true
        when {{ clean_code(col) }} in ('false', 'f', '0', 'no', 'n') then false
    end
{%- endmacro %}

{#- true when a value is present but did not parse -#}
{% macro is_unparseable(raw_col, parsed_expr) -%}
    ({{ clean_text(raw_col) }} is not null and ({{ parsed_expr }}) is null)
{%- endmacro %}

{#- normalised key for channel rules: lower-case, blank -> '(empty)' -#}
{% macro channel_key(col) -%}coalesce({{ clean_code(col) }}, '(empty)'){%- endmacro %}
