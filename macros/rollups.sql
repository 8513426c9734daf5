{#- A mart's roll-ups: one select per combination of `dims`, each dimension either itself or the
    literal 'all', grouped by the dimensions kept and the columns of `by` (never rolled up), with
    the aggregate columns `measures` (SQL text) over `relation`. 2^n selects in one `union all`:
    `group by cube` with `grouping()` says the same, but this spells the same SQL on every engine.
    Columns: the dims, then `by`, then the measures. -#}
{% macro roll_up_to_all(dims, measures, relation, by=[]) -%}
{%- for mask in range(2 ** (dims | length)) %}
    {%- set kept = [] %}
    {%- for dim in dims %}{% if (mask // (2 ** loop.index0)) % 2 == 0 %}{% do kept.append(dim) %}{% endif %}{% endfor %}
    select
        {%- for dim in dims %}
        {% if dim in kept %}{{ dim }}{% else %}'all'{% endif %} as {{ dim }},
        {%- endfor %}
        {%- for column in by %}
        {{ column }},
        {%- endfor %}
        {{ measures }}
    from {{ relation }}
    {% if kept or by %}group by {{ (kept + by) | join(', ') }}{% endif %}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endmacro %}

{#- Right-censoring (domain.md "F2"): a row started at `start_date` has been observed for `n`
    days when it started at least `n` days before as_of_date. Only such rows count in an N-day
    rate: a start too recent to have had N days is not counted as not converted. -#}
{% macro observed_for(start_date, n) -%}
{{ start_date }} <= {{ add_days(as_of_date(), -n) }}
{%- endmacro %}

{#- Conversion within N days for each N of `horizons`, censoring-aware (observed_for):
    count_<prefix>eligible_<N>d   rows observed for N days
    count_<prefix>converted_<N>d  of those, rows whose next step came within N days (`days_to`) -#}
{% macro conversion_counts(start_date, days_to, horizons, prefix='') -%}
{%- for n in horizons %}
        cast(sum(case when {{ observed_for(start_date, n) }} then 1 else 0 end) as bigint) as count_{{ prefix }}eligible_{{ n }}d,
        cast(sum(case when {{ observed_for(start_date, n) }}
            and {{ days_to }} <= {{ n }} then 1 else 0 end) as bigint) as count_{{ prefix }}converted_{{ n }}d{{ ',' if not loop.last }}
{%- endfor %}
{%- endmacro %}
