-- Conditions of the seed activation_audience_rules that the rule evaluation
-- (int_audience_membership) could not apply as written; each failing row names the audience,
-- the condition and what to change. A number feature needs a number and takes = != < <= > >=;
-- a text feature takes = != in.
with rules as (

    select * from {{ ref('activation_audience_rules') }}

),

-- a condition several rule groups share takes one slot (int_audience_membership)
slots as (

    select count(*) as conditions
    from (select distinct {{ audience_condition_columns() }} from rules) as distinct_conditions

),

final as (

    select
        audience,
        rule_group,
        feature,
        operator,
        value,
        case
            when {{ audience_is_number_feature('feature') }}
                and operator = 'in' then 'a number feature takes = != < <= > >=, not in'
            when {{ audience_is_number_feature('feature') }}
                and {{ parse_decimal('value') }} is null then 'a number feature needs a number as its value'
            when {{ audience_is_text_feature('feature') }}
                and operator in ('<', '<=', '>', '>=') then 'a text feature takes =, != or in'
            when slots.conditions > {{ audience_max_conditions() }}
                then 'at most {{ audience_max_conditions() }} distinct conditions in all (var activation_max_conditions, up to 62): raise the var, or merge or drop some'
        end as what_to_change
    from rules
    cross join slots

)

select * from final where what_to_change is not null
