{#- Rows of one raw table that broke the contract, with the raw text as it arrived (so the shop can
    see and fix the value), the reason, and the file and row it came from. Personal-data columns
    (type personal in the var raw_contract) are left out: they stay in raw. `reasons_sql` selects
    (_source_file, _row_number, reject_reason). `loaded_after` (SQL, optional): read only the raw
    rows loaded after it (an incremental run's watermark), not every raw row. -#}
{% macro quarantine_rows(table_name, reasons_sql, loaded_after=none) -%}
    {%- set personal = personal_columns(table_name) -%}
    {%- set columns = adapter.get_columns_in_relation(source('shop', table_name)) if execute else [] -%}
    with reasons as (

        {{ reasons_sql }}

    ),

    raw_rows as (

        select * from {{ source('shop', table_name) }}
        {% if loaded_after is not none %}where _loaded_at > {{ loaded_after }}{% endif %}

    ),

    final as (

        select
            '{{ table_name }}' as table_name,
            reasons.reject_reason,
            {%- for column in columns if column.name not in personal and not column.name.startswith('_') %}
            raw_rows.{{ column.name }},
            {%- endfor %}
            raw_rows._malformed_line,
            raw_rows._source_file,
            raw_rows._row_number,
            raw_rows._loaded_at
        from reasons
        inner join raw_rows
            on reasons._source_file = raw_rows._source_file
            and reasons._row_number = raw_rows._row_number

    )

    select * from final
{%- endmacro %}
