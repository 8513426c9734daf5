-- How int_audience_membership applies the seed activation_audience_rules (decision logs 69, 83, 86).

-- The most distinct conditions the seed may hold (var activation_max_conditions): each distinct
-- (feature, operator, value) is one bit of a bigint mask, so at most 62; rule groups that share a
-- condition share its bit (decision log 100). Every slot costs time on each customer x day even
-- when the seed leaves it empty (decision log 90), so the default leaves room for more than twice
-- the default seed's 13 distinct conditions (16 rows).
-- Checked by tests/assert_audience_rules_are_well_formed.sql.
{% macro audience_max_conditions() -%}
{%- set slots = var('activation_max_conditions') | int -%}
{%- if slots < 1 or slots > 62 -%}
{{ exceptions.raise_compiler_error("var activation_max_conditions is " ~ slots ~ ": it must be between 1 and 62 (one bit of a bigint per condition)") }}
{%- endif -%}
{{ slots }}
{%- endmacro %}

-- What makes two rows of the seed one condition (one bit, one slot): the same feature, operator
-- and value. Numbered by int_audience_membership, counted against the slots by
-- tests/assert_audience_rules_are_well_formed.sql (decision log 100).
{% macro audience_condition_columns() -%}feature, operator, value{%- endmacro %}

-- Whether a feature (a column name of int_activation_features) is a number or a text feature
-- (vars activation_number_features, activation_text_features); used by the evaluation and by
-- tests/assert_audience_rules_are_well_formed.sql.
{% macro audience_is_number_feature(feature) -%}
{{ feature }} in ('{{ var("activation_number_features") | join("', '") }}')
{%- endmacro %}

{% macro audience_is_text_feature(feature) -%}
{{ feature }} in ('{{ var("activation_text_features") | join("', '") }}')
{%- endmacro %}

-- The operators, written once as what a condition's feature value must be against its value:
-- below it, equal to it, above it, or (text features, operator `in`) one of its |-separated items.
-- A number feature takes = != < <= > >=, a text feature = != in; anything else never holds (all 0).
{% macro audience_operator_flags(feature, operator) -%}
{%- set is_number = audience_is_number_feature(feature) -%}
{%- set is_text = audience_is_text_feature(feature) -%}
case
    when {{ is_number }} and {{ operator }} in ('<', '<=', '!=') then 1
    when {{ is_text }} and {{ operator }} = '!=' then 1
    else 0
end as if_below,
case
    when {{ is_number }} and {{ operator }} in ('=', '<=', '>=') then 1
    when {{ is_text }} and {{ operator }} = '=' then 1
    else 0
end as if_equal,
case
    when {{ is_number }} and {{ operator }} in ('>', '>=', '!=') then 1
    when {{ is_text }} and {{ operator }} = '!=' then 1
    else 0
end as if_above,
case when {{ is_text }} and {{ operator }} = 'in' then 1 else 0 end as if_listed
{%- endmacro %}

-- Whether condition `k` of the one-row `conditions` relation (feature_k, value_k, value_number_k
-- and the flags of audience_operator_flags) holds on the row of `features`: number features are
-- compared with the value as a number, text features with the text. A null feature, or a
-- condition slot past the seed's last condition, never holds (null or false).
{% macro audience_condition_holds(features, conditions, k) -%}
{%- set c = conditions -%}
case when {{ c }}.feature_{{ k }} is null then false
else case {{ c }}.feature_{{ k }}
    {%- for feature in var('activation_number_features') %}
    when '{{ feature }}' then {{ audience_compare('cast(' ~ features ~ '.' ~ feature ~ ' as double)', c ~ '.value_number_' ~ k, c, k) }}
    {%- endfor %}
    {%- for feature in var('activation_text_features') %}
    when '{{ feature }}' then case when {{ c }}.if_listed_{{ k }} = 1
        then ('|' || {{ c }}.value_{{ k }} || '|') like ('%|' || {{ features }}.{{ feature }} || '|%')
        else {{ audience_compare(features ~ '.' ~ feature, c ~ '.value_' ~ k, c, k) }} end
    {%- endfor %}
    else false
end end
{%- endmacro %}

{% macro audience_compare(x, v, c, k) -%}
case when {{ x }} < {{ v }} then {{ c }}.if_below_{{ k }} = 1 when {{ x }} > {{ v }} then {{ c }}.if_above_{{ k }} = 1
    when {{ x }} = {{ v }} then {{ c }}.if_equal_{{ k }} = 1 end
{%- endmacro %}
