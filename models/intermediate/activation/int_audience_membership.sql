-- One row per known customer x feature_date of the activation window who is in an audience that
-- day: the audience of lowest priority whose rule matches (first match wins). A rule is the seed
-- activation_audience_rules: an audience matches when every condition of one of its rule groups
-- holds. Features are a closed list (vars activation_number_features, activation_text_features,
-- checked by the seed's tests and tests/assert_audience_rules_are_well_formed.sql); a null
-- feature never holds.
with features as (

    select * from {{ ref('int_activation_features') }}

),

rules as (

    select
        *,
        -- the condition's value as a number, for numeric features (exact parsing, null otherwise)
        cast({{ parse_decimal('value') }} as double) as value_number,
        -- one bit per condition: a rule group matches when the bits of its conditions are all set
        -- (at most 62 conditions, checked by tests/assert_audience_rules_are_well_formed.sql)
        cast(power(2, row_number() over (order by audience, rule_group, feature, operator, value) - 1) as bigint)
            as condition_bit
    from {{ ref('activation_audience_rules') }}

),

audiences as (

    select * from {{ ref('activation_audiences') }}

),

evaluated as (

    select
        features.customer_id,
        features.feature_date,
        rules.condition_bit,
        rules.operator,
        rules.value,
        rules.value_number,
        case rules.feature
            {%- for feature in var('activation_number_features') %}
            when '{{ feature }}' then cast(features.{{ feature }} as double)
            {%- endfor %}
        end as number_value,
        case rules.feature
            {%- for feature in var('activation_text_features') %}
            when '{{ feature }}' then features.{{ feature }}
            {%- endfor %}
        end as text_value
    from features
    cross join rules

),

held as (

    select
        customer_id,
        feature_date,
        condition_bit,
        case
            when text_value is not null then case operator
                when '=' then text_value = value
                when '!=' then text_value <> value
                when 'in' then ('|' || value || '|') like ('%|' || text_value || '|%')
                else false
            end
            when number_value is not null then case operator
                when '=' then number_value = value_number
                when '!=' then number_value <> value_number
                when '<' then number_value < value_number
                when '<=' then number_value <= value_number
                when '>' then number_value > value_number
                when '>=' then number_value >= value_number
                else false
            end
            else false
        end as condition_holds
    from evaluated

),

-- per customer x day, the bits of the conditions that hold: one group per customer x day (grouping
-- per rule group instead held ~4 groups per customer x day and ran out of memory at 1M customers,
-- decision log 83)
held_masks as (

    select customer_id, feature_date, sum(condition_bit) as held_mask
    from held
    where condition_holds
    group by customer_id, feature_date

),

group_masks as (

    select audience, rule_group, sum(condition_bit) as group_mask
    from rules
    group by audience, rule_group

),

-- the matching audience of lowest priority (priorities are unique: the seed's tests)
matched as (

    select held_masks.customer_id, held_masks.feature_date, min(audiences.priority) as priority
    from held_masks
    cross join group_masks
    inner join audiences on group_masks.audience = audiences.audience
    where (held_masks.held_mask & group_masks.group_mask) = group_masks.group_mask
    group by held_masks.customer_id, held_masks.feature_date

),

final as (

    select matched.customer_id, matched.feature_date, audiences.audience, matched.priority
    from matched
    inner join audiences on matched.priority = audiences.priority

)

select * from final
