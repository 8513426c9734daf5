-- How int_audience_membership applies the seed activation_audience_rules (decisions 69, 83,
-- 101). The seed is read when the model runs, and each rule is written into the model's SQL as
-- plain comparisons (`features.purchases >= 2`), as dbt_utils.get_column_values writes a table's
-- values into SQL: a shop edits the seed and runs again, no SQL to change.

-- The seed's conditions in priority order: one dict per row of activation_audience_rules whose
-- audience has a row in activation_audiences (an audience without one never matches), with that
-- audience's priority. Read when the model runs (`execute`); while dbt parses, there are none.
-- A unit test gives its own rows by overriding this macro (overrides: macros: audience_rule_rows).
{% macro audience_rule_rows() -%}
{%- if not execute -%}{{ return([]) }}{%- endif -%}
{%- set rules = load_relation(ref('activation_audience_rules')) -%}
{%- set audiences = load_relation(ref('activation_audiences')) -%}
{%- if rules is none or audiences is none -%}
{{ exceptions.raise_compiler_error("int_audience_membership reads its rules from the seeds activation_audience_rules and activation_audiences, which are not in the warehouse yet: run `dbt seed` first (`dbt build` loads them before the model).") }}
{%- endif -%}
{%- set query -%}
select rules.audience, audiences.priority, rules.rule_group, rules.feature, rules.operator, rules.value
from {{ rules }} as rules
inner join {{ audiences }} as audiences on rules.audience = audiences.audience
order by audiences.priority, rules.rule_group, rules.feature, rules.operator, rules.value
{%- endset -%}
{%- set rows = [] -%}
{%- for row in run_query(query).rows -%}
{%- do rows.append({'audience': row[0], 'priority': row[1] | int, 'rule_group': row[2] | int,
                    'feature': row[3], 'operator': row[4], 'value': row[5]}) -%}
{%- endfor -%}
{{ return(rows) }}
{%- endmacro %}

-- Whether a feature (a column name of int_activation_features) is a number or a text feature
-- (vars activation_number_features, activation_text_features), as SQL over a column holding the
-- feature's name; used by tests/assert_audience_rules_are_well_formed.sql.
{% macro audience_is_number_feature(feature) -%}
{{ feature }} in {{ audience_text_list(var("activation_number_features")) }}
{%- endmacro %}

{% macro audience_is_text_feature(feature) -%}
{{ feature }} in {{ audience_text_list(var("activation_text_features")) }}
{%- endmacro %}

-- The operators each kind of feature takes: a number feature is compared with its value as a
-- number, a text feature with its text, and `in` lists |-separated texts. Read by
-- audience_condition and by tests/assert_audience_rules_are_well_formed.sql.
{% macro audience_number_operators() -%}{{ return(['=', '!=', '<', '<=', '>', '>=']) }}{%- endmacro %}
{% macro audience_text_operators() -%}{{ return(['=', '!=', 'in']) }}{%- endmacro %}

-- a text as a SQL string literal (a quote doubled), and a list of texts as `('a', 'b')`
{% macro audience_text_literal(text) -%}
'{{ text | string | replace("'", "''") }}'
{%- endmacro %}

{% macro audience_text_list(texts) -%}
{%- set literals = [] -%}
{%- for text in texts %}{% do literals.append(audience_text_literal(text)) %}{% endfor -%}
({{ literals | join(', ') }})
{%- endmacro %}

-- One condition of the seed as a SQL predicate over the row `features` of int_activation_features.
-- A number feature is cast to double and compared with the value as parse_decimal reads it (a
-- value that is not a number never holds); a text feature is compared with the text, or `in` its
-- |-separated items (exact items). A null feature never holds (the predicate is null). A feature
-- outside the closed lists, or an operator its kind does not take, never holds (`false`); the
-- seed's test fails on such a row, naming it.
{% macro audience_condition(features, feature, operator, value) -%}
{%- if value is none -%}
false
{%- elif feature in var('activation_number_features') and operator in audience_number_operators() -%}
cast({{ features }}.{{ feature }} as double) {{ operator }} cast({{ parse_decimal(audience_text_literal(value)) }} as double)
{%- elif feature in var('activation_text_features') and operator == 'in' -%}
{{ features }}.{{ feature }} in {{ audience_text_list((value | string).split('|')) }}
{%- elif feature in var('activation_text_features') and operator in audience_text_operators() -%}
{{ features }}.{{ feature }} {{ operator }} {{ audience_text_literal(value) }}
{%- else -%}
false
{%- endif -%}
{%- endmacro %}
