-- One row per row date of customer_portfolio_monthly x from_state x to_state that occurs: how many
-- customers moved from their state at the previous row date to their state at this one (text 000:
-- compare this month with last month). from_state is `none` for a customer whose first purchase
-- falls in the period. share_of_from_state = count / customers in from_state at the previous
-- date (for `none`: among that period's newcomers). Conservation: for every state, the
-- transitions out of it sum to its count at the previous date.
{#- The portfolio (a row per customer per row date, 14-24M rows at 1M customers) is read where it is
    used, three times, not through a shared CTE, which DuckDB would copy first (decisions 87,
    95). -#}
{%- set portfolio -%}
    (select customer_id, month_end_date, cpm_state from {{ ref('customer_portfolio_monthly') }})
{%- endset %}

with states as (

    select * from {{ ref('cpm_states') }}

),

row_dates as (

    select distinct month_end_date from {{ portfolio }} as portfolio

),

ordered_dates as (

    select
        month_end_date,
        lag(month_end_date) over (order by month_end_date) as previous_date
    from row_dates

),

moves as (

    select
        ordered_dates.month_end_date,
        ordered_dates.previous_date,
        coalesce(previous.cpm_state, 'none') as from_state,
        current_state.cpm_state as to_state
    from {{ portfolio }} as current_state
    inner join ordered_dates
        on current_state.month_end_date = ordered_dates.month_end_date
    left join {{ portfolio }} as previous
        on current_state.customer_id = previous.customer_id
        and previous.month_end_date = ordered_dates.previous_date

),

counted as (

    select
        month_end_date,
        previous_date,
        from_state,
        to_state,
        cast(count(*) as bigint) as count_customers
    from moves
    group by 1, 2, 3, 4

),

final as (

    select
        counted.month_end_date,
        counted.previous_date,
        counted.from_state,
        counted.to_state,
        from_states.cpm_state_ja as from_state_ja,
        to_states.cpm_state_ja as to_state_ja,
        counted.count_customers,
        cast(counted.count_customers as double)
            / sum(counted.count_customers) over (partition by counted.month_end_date, counted.from_state) as share_of_from_state,
        -- 新規 new, 維持 kept, 引上げ moved up a segment, 離脱 active -> lapsed, 復活 lapsed -> active,
        -- 横移動 sideways (steady <-> trendy)
        case
            when counted.from_state = 'none' then 'new'
            when counted.from_state = counted.to_state then 'kept'
            when from_states.cpm_status = 'active' and to_states.cpm_status = 'lapsed' then 'lapsed'
            when from_states.cpm_status = 'lapsed' and to_states.cpm_status = 'active' then 'reactivated'
            when to_states.segment_rank > from_states.segment_rank then 'moved_up'
            else 'sideways'
        end as movement
    from counted
    left join states as from_states
        on counted.from_state = from_states.cpm_state
    left join states as to_states
        on counted.to_state = to_states.cpm_state

)

select
    *,
    case movement
        when 'new' then '新規'
        when 'kept' then '維持'
        when 'lapsed' then '離脱'
        when 'reactivated' then '復活'
        when 'moved_up' then '引上げ'
        else '横移動'
    end as movement_ja
from final
