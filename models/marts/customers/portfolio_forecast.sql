-- One row per future month end (the 1st .. var cpm_forecast_months (12)th month end after
-- as_of_date) x CPM state (the ten states of seed cpm_states; `none` is not a state one is in):
-- the projected number of customers in that state (the customer balance sheet, 顧客バランスシート).
-- Projection, one month per step: the counts at the last row date of customer_portfolio_monthly
-- (as_of_date) times the transition matrix of the last var cpm_forecast_window_months (3) month
-- ends of portfolio_transitions (counts summed over those months, divided by the customers who
-- left each from_state; a state nobody was in keeps its customers), plus the mean inflow of new
-- customers (from `none`) per month of that window into each state. A mid-month as_of_date's row
-- is not a month: its transitions are not in the window.
{%- set months = var('cpm_forecast_months') | int %}
{%- set window_months = var('cpm_forecast_window_months') | int %}
{#- the month ends after as_of_date, computed once at compile time: literals on every engine -#}
{%- set dt = modules.datetime %}
{%- set as_of = dt.datetime.strptime(as_of_date_text(), '%Y-%m-%d').date() %}
{%- set next_day = as_of + dt.timedelta(days=1) %}
{%- set first_offset = 1 if next_day.day == 1 else 0 %}
{%- set month_ends = [] %}
{%- for k in range(1, months + 1) %}
    {%- set index = as_of.year * 12 + as_of.month - 1 + k - 1 + first_offset + 1 %}
    {%- set first_of_next = dt.date(index // 12, index % 12 + 1, 1) %}
    {%- do month_ends.append((first_of_next - dt.timedelta(days=1)).isoformat()) %}
{%- endfor %}

with states as (

    select cpm_state, cpm_state_ja from {{ ref('cpm_states') }} where cpm_state != 'none'

),

transitions as (

    select month_end_date, from_state, to_state, count_customers from {{ ref('portfolio_transitions') }}

),

portfolio as (

    select month_end_date, cpm_state from {{ ref('customer_portfolio_monthly') }}

),

row_dates as (

    select
        month_end_date,
        row_number() over (order by month_end_date desc) as recency
    from (
        select distinct month_end_date
        from transitions
        {%- if first_offset == 0 %}
        where month_end_date < {{ as_of_date() }}
        {%- endif %}
    ) as distinct_dates

),

window_dates as (

    select month_end_date from row_dates where recency <= {{ window_months }}

),

window_size as (

    select cast(count(*) as bigint) as transition_window_months from window_dates

),

recent as (

    select transitions.*
    from transitions
    inner join window_dates
        on transitions.month_end_date = window_dates.month_end_date

),

moves as (

    select from_state, to_state, sum(count_customers) as count_customers
    from recent
    where from_state != 'none'
    group by from_state, to_state

),

leaving as (

    select from_state, sum(count_customers) as count_customers
    from moves
    group by from_state

),

matrix as (

    select
        from_states.cpm_state as from_state,
        to_states.cpm_state as to_state,
        case
            when leaving.count_customers is null
                then case when from_states.cpm_state = to_states.cpm_state then 1.0 else 0.0 end
            else cast(coalesce(moves.count_customers, 0) as double) / leaving.count_customers
        end as probability
    from states as from_states
    cross join states as to_states
    left join leaving
        on from_states.cpm_state = leaving.from_state
    left join moves
        on from_states.cpm_state = moves.from_state
        and to_states.cpm_state = moves.to_state

),

newcomers as (

    select to_state, sum(count_customers) as count_customers
    from recent
    where from_state = 'none'
    group by to_state

),

inflow as (

    select
        states.cpm_state,
        coalesce({{ safe_divide('cast(newcomers.count_customers as double)', 'window_size.transition_window_months') }}, 0.0) as count_customers
    from states
    cross join window_size
    left join newcomers
        on states.cpm_state = newcomers.to_state

),

latest as (

    select portfolio.cpm_state, count(*) as count_customers
    from portfolio
    where portfolio.month_end_date = (select max(month_ends.month_end_date) from portfolio as month_ends)
    group by portfolio.cpm_state

),

step_0 as (

    select states.cpm_state, cast(coalesce(latest.count_customers, 0) as double) as count_customers
    from states
    left join latest
        on states.cpm_state = latest.cpm_state

),
{% for k in range(1, months + 1) %}
step_{{ k }} as (

    select
        matrix.to_state as cpm_state,
        sum(step_{{ k - 1 }}.count_customers * matrix.probability) + max(inflow.count_customers) as count_customers
    from step_{{ k - 1 }}
    inner join matrix
        on step_{{ k - 1 }}.cpm_state = matrix.from_state
    inner join inflow
        on matrix.to_state = inflow.cpm_state
    group by matrix.to_state

),
{% endfor %}
projected as (
{% for k in range(1, months + 1) %}
    select
        {{ k }} as months_ahead,
        cast('{{ month_ends[k - 1] }}' as date) as month_end_date,
        cpm_state,
        count_customers
    from step_{{ k }}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}

),

final as (

    select
        projected.month_end_date,
        cast(projected.months_ahead as int) as months_ahead,
        projected.cpm_state,
        states.cpm_state_ja,
        -- rounded to a millionth of a customer: the matrix products are summed in no fixed order,
        -- and a rebuild of the same data must give the same cells
        round(projected.count_customers, 6) as projected_count_customers,
        window_size.transition_window_months
    from projected
    inner join states
        on projected.cpm_state = states.cpm_state
    cross join window_size

)

select * from final
