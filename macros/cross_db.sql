{#- Engine-neutral building blocks. Models call only these and dbt's own cross-database macros
    (dbt.datediff, dbt.date_trunc, dbt.last_day, dbt.split_part, dbt.listagg, ...); each macro
    dispatches to the adapter, so the same model SQL runs on DuckDB and on Spark. -#}

{#- cast that yields null instead of failing on a bad value -#}
{% macro try_cast(expr, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'crm_warehouse')(expr, data_type)) }}
{%- endmacro %}
{% macro default__try_cast(expr, data_type) -%}try_cast({{ expr }} as {{ data_type }}){%- endmacro %}

{#- Sum of a double whose digits do not depend on the order rows arrive in. A parallel engine adds
    doubles in whatever order its threads finish, so a plain sum can change in the last digit from
    one run to the next; each value is held as a decimal with 18 places first (exact addition),
    then the total is a double again. Decision 81. -#}
{% macro exact_sum(expr) -%}cast(sum(cast({{ expr }} as decimal(38, 18))) as double){%- endmacro %}

{#- The values of a group joined in sorted order: the same text for the same set of values whatever
    order the rows arrive in (dbt.listagg cannot sort on Spark). DuckDB sorts a collected list in
    half the time of an ordered string_agg, with the same text (decision 102). -#}
{% macro sorted_string_agg(expr, delimiter) -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'crm_warehouse')(expr, delimiter)) }}
{%- endmacro %}
{% macro default__sorted_string_agg(expr, delimiter) -%}string_agg({{ expr }}, '{{ delimiter }}' order by {{ expr }}){%- endmacro %}
{% macro duckdb__sorted_string_agg(expr, delimiter) -%}array_to_string(list_sort(list({{ expr }})), '{{ delimiter }}'){%- endmacro %}
{% macro spark__sorted_string_agg(expr, delimiter) -%}array_join(array_sort(collect_list({{ expr }})), '{{ delimiter }}'){%- endmacro %}

{#- Leading and trailing spaces (U+0020) removed, and no other character (decision 99). DuckDB's
    trim() without characters also removes Unicode spaces (U+00A0, U+3000 ...), Spark's only U+0020:
    the same key would be another key on the other engine. -#}
{% macro trim_spaces(expr) -%}
    {{ return(adapter.dispatch('trim_spaces', 'crm_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__trim_spaces(expr) -%}trim({{ expr }}, ' '){%- endmacro %}
{% macro spark__trim_spaces(expr) -%}trim({{ expr }}){%- endmacro %}

{#- true when text matches a regular expression -#}
{% macro regex_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_match', 'crm_warehouse')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regex_match(expr, pattern) -%}regexp_matches({{ expr }}, '{{ pattern }}'){%- endmacro %}
{% macro spark__regex_match(expr, pattern) -%}({{ expr }} rlike '{{ pattern }}'){%- endmacro %}

{#- Text timestamp -> business-time-zone wall clock (timestamp without zone). With an offset
    (Z, +09:00, +0900, +09) the instant is converted to the business zone; without one the text is
    already business time. Null when it does not parse. -#}
{% macro to_business_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_business_timestamp', 'crm_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__to_business_timestamp(expr) -%}
    case
        when {{ regex_match(expr, '[0-9]:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$') }}
            then timezone('{{ var("business_timezone") }}', try_cast({{ expr }} as timestamptz))
        else try_cast({{ expr }} as timestamp)
    end
{%- endmacro %}
{% macro spark__to_business_timestamp(expr) -%}
    {#- Spark sessions run in UTC (profile): a text with an offset casts to its UTC instant, which
        from_utc_timestamp turns into business wall-clock time; a naive text is wall-clock already. -#}
    case
        when {{ regex_match(expr, '[0-9]:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$') }}
            then from_utc_timestamp(try_cast({{ expr }} as timestamp), '{{ var("business_timezone") }}')
        else try_cast({{ expr }} as timestamp)
    end
{%- endmacro %}

{#- interpolated quantile (percentile_cont) as an aggregate -#}
{% macro percentile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'crm_warehouse')(expr, fraction)) }}
{%- endmacro %}
{% macro default__percentile_cont(expr, fraction) -%}quantile_cont({{ expr }}, {{ fraction }}){%- endmacro %}
{% macro spark__percentile_cont(expr, fraction) -%}percentile({{ expr }}, {{ fraction }}){%- endmacro %}

{#- whole days from start_date to end_date (dates) -#}
{% macro days_between(start_date, end_date) -%}
    cast({{ dbt.datediff(start_date, end_date, 'day') }} as bigint)
{%- endmacro %}

{#- date plus n days, a date -#}
{% macro add_days(date_expr, n) -%}
    {{ return(adapter.dispatch('add_days', 'crm_warehouse')(date_expr, n)) }}
{%- endmacro %}
{% macro default__add_days(date_expr, n) -%}cast({{ dbt.dateadd('day', n, date_expr) }} as date){%- endmacro %}
{% macro spark__add_days(date_expr, n) -%}date_add({{ date_expr }}, {{ n }}){%- endmacro %}

{#- month text YYYY-MM of a date -#}
{% macro month_text(date_expr) -%}
    {{ return(adapter.dispatch('month_text', 'crm_warehouse')(date_expr)) }}
{%- endmacro %}
{% macro default__month_text(date_expr) -%}strftime({{ date_expr }}, '%Y-%m'){%- endmacro %}
{% macro spark__month_text(date_expr) -%}date_format({{ date_expr }}, 'yyyy-MM'){%- endmacro %}

{#- ISO weekday of a timestamp or date: 1 = Monday ... 7 = Sunday -#}
{% macro iso_weekday(expr) -%}
    {{ return(adapter.dispatch('iso_weekday', 'crm_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__iso_weekday(expr) -%}cast(isodow({{ expr }}) as integer){%- endmacro %}
{% macro spark__iso_weekday(expr) -%}(weekday({{ expr }}) + 1){%- endmacro %}

{#- hour of day 0..23 -#}
{% macro hour_of(expr) -%}cast(extract(hour from {{ expr }}) as integer){%- endmacro %}

{#- a / b as double, null when b is 0 or null -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{#- integer ceil(buckets * k / n) for 1 <= k <= n, exact (no floating-point edge at bucket bounds) -#}
{% macro ceil_bucket(k, n, buckets) -%}
    cast(floor((cast({{ buckets }} as bigint) * {{ k }} + {{ n }} - 1) / {{ n }}) as integer)
{%- endmacro %}

{#- integers 0 .. 10^digits - 1 as a one-column relation `n`, from a cross join of digits: no
    engine-specific series function -#}
{% macro number_series(digits) -%}
    select
        {% for j in range(digits) %}d{{ j }}.n * {{ 10 ** j }}{% if not loop.last %} + {% endif %}{% endfor %} as n
    from
    {%- for j in range(digits) %}
        (select 0 as n union all select 1 union all select 2 union all select 3 union all select 4
         union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) as d{{ j }}
        {%- if not loop.last %} cross join{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- a hexadecimal text (at most 15 digits) as a bigint -#}
{% macro hex_to_bigint(expr) -%}
    {{ return(adapter.dispatch('hex_to_bigint', 'crm_warehouse')(expr)) }}
{%- endmacro %}
{% macro default__hex_to_bigint(expr) -%}cast(('0x' || {{ expr }}) as bigint){%- endmacro %}
{% macro spark__hex_to_bigint(expr) -%}cast(conv({{ expr }}, 16, 10) as bigint){%- endmacro %}

{#- The smallest row of a group by `by` (a list of column names compared in order; together they
    must identify one row of the group), as an aggregate: a struct of those columns, read with
    `struct_field(<expr>, '<column>')`. One pass of a group-by instead of ranking every row with a
    window (decision 88). Structs compare field by field on both engines (DuckDB and Spark
    order them lexicographically). -#}
{% macro first_row(by) -%}
    min({{ adapter.dispatch('make_struct', 'crm_warehouse')(by) }})
{%- endmacro %}
{% macro default__make_struct(names) -%}
    struct_pack({% for name in names %}{{ name }} := {{ name }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}
{% macro spark__make_struct(names) -%}
    named_struct({% for name in names %}'{{ name }}', {{ name }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}
{% macro struct_field(expr, name) -%}
    {{ return(adapter.dispatch('struct_field', 'crm_warehouse')(expr, name)) }}
{%- endmacro %}
{% macro default__struct_field(expr, name) -%}struct_extract({{ expr }}, '{{ name }}'){%- endmacro %}
{% macro spark__struct_field(expr, name) -%}{{ expr }}.{{ name }}{%- endmacro %}

{#- Which of `buckets` buckets a value falls in (0 .. buckets - 1), from the engine's own fast hash:
    equal values always share a bucket (int_session_summaries, decision 91). Not
    `stable_bucket` (macros/customer_rules.sql): that one is an md5 of the text, the same on every
    engine and in Python, which the holdout needs; splitting work only needs equal values together
    within one engine, and this runs on every event of a full build, twice per pass. -#}
{% macro hash_bucket(expr, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket', 'crm_warehouse')(expr, buckets)) }}
{%- endmacro %}
{% macro default__hash_bucket(expr, buckets) -%}(hash({{ expr }}) % {{ buckets }}){%- endmacro %}
{% macro spark__hash_bucket(expr, buckets) -%}pmod(hash({{ expr }}), {{ buckets }}){%- endmacro %}
