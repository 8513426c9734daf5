-- Conditions of the seed activation_audience_rules that the rule evaluation
-- (int_audience_membership, macro audience_condition) could not apply as written: it writes them as
-- `false`. Each failing row names the audience, the condition and what to change. A number feature
-- needs a number and takes = != < <= > >=; a text feature takes = != in.
with rules as (

    select * from {{ ref('activation_audience_rules') }}

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
                and operator not in {{ audience_text_list(audience_number_operators()) }} then 'a number feature takes {{ audience_number_operators() | join(" ") }}'
            when {{ audience_is_number_feature('feature') }}
                and {{ parse_decimal('value') }} is null then 'a number feature needs a number as its value'
            when {{ audience_is_text_feature('feature') }}
                and operator not in {{ audience_text_list(audience_text_operators()) }} then 'a text feature takes {{ audience_text_operators() | join(" ") }}'
        end as what_to_change
    from rules

)

select * from final where what_to_change is not null
