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
        cast({{ parse_decimal('value') }} as double) as value_number
    from {{ ref('activation_audience_rules') }}

),

audiences as (

    select * from {{ ref('activation_audiences') }}

),

evaluated as (

    select
        features.customer_id,
        features.feature_date,
        rules.audience,
        rules.rule_group,
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
        audience,
        rule_group,
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

group_sizes as (

    select audience, rule_group, count(*) as count_conditions
    from rules
    group by audience, rule_group

),

-- a rule group matches when every one of its conditions holds: only the conditions that hold are
-- counted (most do not, and counting them all cost most of the model)
matched_groups as (

    select held.customer_id, held.feature_date, held.audience
    from held
    inner join group_sizes
        on held.audience = group_sizes.audience and held.rule_group = group_sizes.rule_group
    where held.condition_holds
    group by held.customer_id, held.feature_date, held.audience, held.rule_group, group_sizes.count_conditions
    having count(*) = group_sizes.count_conditions

),

ranked as (

    select
        matched.customer_id,
        matched.feature_date,
        matched.audience,
        audiences.priority,
        row_number() over (
            partition by matched.customer_id, matched.feature_date order by audiences.priority
        ) as audience_rank
    from (select distinct customer_id, feature_date, audience from matched_groups) as matched
    inner join audiences on matched.audience = audiences.audience

),

final as (

    select customer_id, feature_date, audience, priority
    from ranked
    where audience_rank = 1

)

select * from final
