-- How int_audience_membership applies the seed activation_audience_rules (decision logs 69, 83, 86).

-- The most conditions the seed may hold: each condition is one bit of a bigint mask. Checked by
-- tests/assert_audience_rules_are_well_formed.sql.
{% macro audience_max_conditions() -%}
62
{%- endmacro %}

-- Whether condition `k` of the one-row `conditions` relation (feature_k, operator_k, value_k,
-- value_number_k) holds on the row of `features`. A number feature takes = != < <= > >= against
-- the value as a number, a text feature takes = != and `in` (a |-separated list). A null feature,
-- an unknown feature or operator never holds (null or false).
{% macro audience_condition_holds(features, conditions, k) -%}
case when {{ conditions }}.feature_{{ k }} is null then false  {#- past the seed's last condition: checked first, so the rest is skipped #}
else case {{ conditions }}.feature_{{ k }}
    {%- for feature in var('activation_number_features') %}
    when '{{ feature }}' then case {{ conditions }}.operator_{{ k }}
        when '=' then cast({{ features }}.{{ feature }} as double) = {{ conditions }}.value_number_{{ k }}
        when '!=' then cast({{ features }}.{{ feature }} as double) <> {{ conditions }}.value_number_{{ k }}
        when '<' then cast({{ features }}.{{ feature }} as double) < {{ conditions }}.value_number_{{ k }}
        when '<=' then cast({{ features }}.{{ feature }} as double) <= {{ conditions }}.value_number_{{ k }}
        when '>' then cast({{ features }}.{{ feature }} as double) > {{ conditions }}.value_number_{{ k }}
        when '>=' then cast({{ features }}.{{ feature }} as double) >= {{ conditions }}.value_number_{{ k }}
        else false
    end
    {%- endfor %}
    {%- for feature in var('activation_text_features') %}
    when '{{ feature }}' then case {{ conditions }}.operator_{{ k }}
        when '=' then {{ features }}.{{ feature }} = {{ conditions }}.value_{{ k }}
        when '!=' then {{ features }}.{{ feature }} <> {{ conditions }}.value_{{ k }}
        when 'in' then ('|' || {{ conditions }}.value_{{ k }} || '|') like ('%|' || {{ features }}.{{ feature }} || '|%')
        else false
    end
    {%- endfor %}
    else false
end end
{%- endmacro %}
