-- CPM conservation: for every state and every row date after the first, the transitions out of
-- that state sum to the customers in it at the previous row date; every customer is in exactly
-- one state at each row date after their first purchase.
-- In Dagster an asset check on portfolio_transitions.
{{ config(meta={'dagster': {'ref': {'name': 'portfolio_transitions'}}}) }}
with states as (

    select month_end_date, cpm_state, count(*) as n_customers
    from {{ ref('customer_portfolio_monthly') }}
    group by 1, 2

),

moves as (

    select previous_date, from_state, sum(count_customers) as n_out
    from {{ ref('portfolio_transitions') }}
    where from_state != 'none'
    group by 1, 2

),

last_date as (

    select max(month_end_date) as month_end_date from states

)

select states.month_end_date, states.cpm_state, states.n_customers, moves.n_out
from states
cross join last_date
left join moves
    on states.month_end_date = moves.previous_date
    and states.cpm_state = moves.from_state
where states.month_end_date < last_date.month_end_date
    and coalesce(moves.n_out, -1) != states.n_customers

union all

select previous_date, from_state, null as n_customers, n_out
from moves
where not exists (
    select 1 from states
    where states.month_end_date = moves.previous_date and states.cpm_state = moves.from_state
)
