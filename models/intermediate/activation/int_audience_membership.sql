-- One row per known customer x feature_date of the activation window who is in an audience that
-- day: the audience of lowest priority whose rule matches (first match wins). A rule is the seed
-- activation_audience_rules: an audience matches when every condition of one of its rule groups
-- holds. Features are a closed list (vars activation_number_features, activation_text_features,
-- checked by the seed's tests and tests/assert_audience_rules_are_well_formed.sql); a null
-- feature never holds (macro audience_condition_holds).
-- One pass over the features, no grouping (decision log 86): the seed's distinct conditions (at
-- most audience_max_conditions(), one bit each) and rule groups (in priority order) are laid side by
-- side in one row, each customer x day sets the bits of the conditions that hold, and the first
-- rule group whose bits are all set is the audience.
{%- set max_conditions = audience_max_conditions() | int %}

with features as (

    select * from {{ ref('int_activation_features') }}

),

audiences as (

    select * from {{ ref('activation_audiences') }}

),

rules as (

    select
        *,
        -- the condition's value as a number, for numeric features (exact parsing, null otherwise)
        cast({{ parse_decimal('value') }} as double) as value_number,
        -- one number (one bit) per distinct condition: a condition several rule groups share
        -- (`cpm_status = active` in three of the default seed's) is evaluated once (decision log 100)
        dense_rank() over (order by {{ audience_condition_columns() }}) as condition_number,
        {{ audience_operator_flags('feature', 'operator') | indent(8) }}
    from {{ ref('activation_audience_rules') }}

),

-- condition k: its feature, value and operator flags (null past the seed's last condition)
conditions as (

    select
        {%- for k in range(1, max_conditions + 1) %}
        max(case when condition_number = {{ k }} then feature end) as feature_{{ k }},
        max(case when condition_number = {{ k }} then value end) as value_{{ k }},
        max(case when condition_number = {{ k }} then value_number end) as value_number_{{ k }},
        {%- set last_condition = loop.last %}
        {%- for flag in ['if_below', 'if_equal', 'if_above', 'if_listed'] %}
        max(case when condition_number = {{ k }} then {{ flag }} end) as {{ flag }}_{{ k }}
        {{- ',' if not (loop.last and last_condition) }}
        {%- endfor %}
        {%- endfor %}
    from rules

),

-- a rule group's mask: the bits of its conditions (condition k is bit k - 1); an audience
-- without a row in activation_audiences never matches
rule_groups as (

    select
        rules.audience,
        rules.rule_group,
        audiences.priority,
        sum(distinct cast(power(2, rules.condition_number - 1) as bigint)) as group_mask
    from rules
    inner join audiences on rules.audience = audiences.audience
    group by rules.audience, rules.rule_group, audiences.priority

),

-- rule group g in priority order (priorities are unique: the seed's tests), so the first group
-- that matches is the audience of lowest priority
numbered_groups as (

    select
        *,
        row_number() over (order by priority, rule_group) as group_number
    from rule_groups

),

groups_in_order as (

    select
        {%- for g in range(1, max_conditions + 1) %}
        max(case when group_number = {{ g }} then group_mask end) as group_mask_{{ g }},
        max(case when group_number = {{ g }} then priority end) as priority_{{ g }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from numbered_groups

),

-- the bits of the conditions that hold, by blocks of 8 conditions: conditions are numbered without
-- gaps, so a block whose first condition is null (past the seed's last one) is skipped whole
held as (

    select
        features.customer_id,
        features.feature_date,
        {%- for block in range(0, max_conditions, 8) %}
        case when conditions.feature_{{ block + 1 }} is null then cast(0 as bigint) else
            {%- for k in range(block + 1, [block + 8, max_conditions] | min + 1) %}
            case when {{ audience_condition_holds('features', 'conditions', k) | indent(16) }}
                then cast({{ 2 ** (k - 1) }} as bigint) else cast(0 as bigint) end
            {{- ' +' if not loop.last }}
            {%- endfor %}
        end
        {{- ' +' if not loop.last }}
        {%- endfor %}
            as held_mask
    from features
    cross join conditions

),

-- the first rule group (in priority order) whose conditions all hold; groups are numbered without
-- gaps, so the first null group ends the search
matched as (

    select
        held.customer_id,
        held.feature_date,
        case
            {%- for g in range(1, max_conditions + 1) %}
            when groups_in_order.group_mask_{{ g }} is null then null
            when (held.held_mask & groups_in_order.group_mask_{{ g }}) = groups_in_order.group_mask_{{ g }}
                then groups_in_order.priority_{{ g }}
            {%- endfor %}
        end as priority
    from held
    cross join groups_in_order

),

final as (

    select matched.customer_id, matched.feature_date, audiences.audience, matched.priority
    from matched
    inner join audiences on matched.priority = audiences.priority

)

select * from final
