-- One row per known customer x feature_date of the activation window who is in an audience that
-- day: the audience of lowest priority whose rule matches (first match wins). A rule is the seed
-- activation_audience_rules: an audience matches when every condition of one of its rule groups
-- holds. Features are a closed list (vars activation_number_features, activation_text_features,
-- checked by the seed's tests and tests/assert_audience_rules_are_well_formed.sql); a null
-- feature never holds.
-- The seed is read when the model runs and written into this SQL as plain comparisons (macros
-- audience_rule_rows and audience_condition, decision 101): each distinct condition is one
-- column of `held`, and the first rule group (in priority order) whose conditions all hold is the
-- audience. See the compiled SQL (target/compiled) for the rules as they were applied.
-- depends_on: {{ ref('activation_audience_rules') }}
-- depends_on: {{ ref('activation_audiences') }}
{%- set conditions = [] %}
{%- set groups = [] %}
{%- for row in audience_rule_rows() %}
    {#- one condition: the same feature, operator and value, whichever rule groups list it #}
    {%- set key = [row['feature'], row['operator'], row['value']] %}
    {%- if key not in conditions %}{% do conditions.append(key) %}{% endif %}
    {%- set condition = 'condition_' ~ (conditions.index(key) + 1) %}
    {%- if not groups or groups[-1]['priority'] != row['priority'] or groups[-1]['rule_group'] != row['rule_group'] %}
        {%- do groups.append({'audience': row['audience'], 'priority': row['priority'], 'rule_group': row['rule_group'], 'conditions': []}) %}
    {%- endif %}
    {%- if condition not in groups[-1]['conditions'] %}{% do groups[-1]['conditions'].append(condition) %}{% endif %}
{%- endfor %}

with features as (

    select * from {{ ref('int_activation_features') }}

),

{%- if groups %}

-- each distinct condition of the seed, once (a condition several rule groups list is one column)
held as (

    select
        features.customer_id,
        features.feature_date,
        {%- for feature, operator, value in conditions %}
        {{ audience_condition('features', feature, operator, value) }} as condition_{{ loop.index }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from features

),

-- the first rule group in priority order whose conditions all hold
matched as (

    select
        customer_id,
        feature_date,
        case
            {%- for group in groups %}
            when {{ group['conditions'] | join(' and ') }} then {{ group['priority'] }}  -- {{ group['audience'] }}, rule group {{ group['rule_group'] }}
            {%- endfor %}
        end as priority
    from held

),

final as (

    select
        customer_id,
        feature_date,
        case priority
            {%- for group in groups %}
            {%- if loop.first or group['priority'] != loop.previtem['priority'] %}
            when {{ group['priority'] }} then {{ audience_text_literal(group['audience']) }}
            {%- endif %}
            {%- endfor %}
        end as audience,
        cast(priority as integer) as priority
    from matched
    where priority is not null

)

{%- else %}

-- the seed holds no rule of an audience in activation_audiences: nobody is in an audience
final as (

    select
        customer_id,
        feature_date,
        cast(null as {{ dbt.type_string() }}) as audience,
        cast(null as integer) as priority
    from features
    where 1 = 0

)

{%- endif %}

select * from final
