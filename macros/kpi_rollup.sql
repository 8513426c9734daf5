{#- KPIs per period ('day' or 'month') of text 004, for kpi_daily and kpi_monthly: one
    definition, two grains. Every period from the first data date to as_of_date gets a row.
      revenue, count_orders   purchases (completed orders, guests included)
      aov                     revenue / count_orders
      count_new_customers     customers whose first purchase is in the period
      count_repeat_customers  customers with a 2nd-or-later purchase in the period; repeat_revenue theirs
      repeat_rate             repeat customers / customers who purchased in the period
      conversion_rate         sessions with a purchase / sessions
      cart_abandonment_rate   1 - sessions with a purchase / sessions with a cart
      cac                     spend / new customers (null with none)
    Ends with the CTE `kpis`: one row per period, the date in `date_column`. -#}
{% macro kpi_rollup(period, date_column) -%}
    {%- set period_col = 'date_day' if period == 'day' else 'month_start_date' -%}
with calendar as (

    select distinct {{ period_col }} as period_date from {{ ref('int_calendar_days') }}

),

orders as (

    select
        {% if period == 'day' %}order_date{% else %}cast({{ dbt.date_trunc('month', 'order_date') }} as date){% endif %} as period_date,
        customer_id,
        purchase_number,
        order_total
    from {{ ref('int_orders_enriched') }}
    where is_purchase

),

sessions as (

    select
        {% if period == 'day' %}session_date{% else %}cast({{ dbt.date_trunc('month', 'session_date') }} as date){% endif %} as period_date,
        has_purchase,
        has_add_to_cart
    from {{ ref('int_sessions') }}

),

spend as (

    select
        {% if period == 'day' %}spend_date{% else %}cast({{ dbt.date_trunc('month', 'spend_date') }} as date){% endif %} as period_date,
        spend
    from {{ ref('int_spend_daily') }}

),

order_kpis as (

    select
        period_date,
        sum(order_total) as revenue,
        count(*) as count_orders,
        count(distinct case when purchase_number = 1 then customer_id end) as count_new_customers,
        count(distinct case when purchase_number >= 2 then customer_id end) as count_repeat_customers,
        count(distinct customer_id) as count_purchasing_customers,
        sum(case when purchase_number >= 2 then order_total else 0 end) as repeat_revenue
    from orders
    group by period_date

),

session_kpis as (

    select
        period_date,
        count(*) as count_sessions,
        sum(case when has_purchase then 1 else 0 end) as count_sessions_with_purchase,
        sum(case when has_add_to_cart then 1 else 0 end) as count_sessions_with_cart
    from sessions
    group by period_date

),

spend_kpis as (

    select period_date, sum(spend) as spend
    from spend
    group by period_date

),

joined as (

    select
        calendar.period_date,
        cast(coalesce(order_kpis.revenue, 0) as {{ money_type() }}) as revenue,
        cast(coalesce(order_kpis.count_orders, 0) as bigint) as count_orders,
        {{ safe_divide('order_kpis.revenue', 'order_kpis.count_orders') }} as aov,
        cast(coalesce(order_kpis.count_new_customers, 0) as bigint) as count_new_customers,
        cast(coalesce(order_kpis.count_repeat_customers, 0) as bigint) as count_repeat_customers,
        cast(coalesce(order_kpis.repeat_revenue, 0) as {{ money_type() }}) as repeat_revenue,
        {{ safe_divide('order_kpis.count_repeat_customers', 'order_kpis.count_purchasing_customers') }} as repeat_rate,
        cast(coalesce(session_kpis.count_sessions, 0) as bigint) as count_sessions,
        {{ safe_divide('session_kpis.count_sessions_with_purchase', 'session_kpis.count_sessions') }} as conversion_rate,
        1 - {{ safe_divide('session_kpis.count_sessions_with_purchase', 'session_kpis.count_sessions_with_cart') }} as cart_abandonment_rate,
        cast(coalesce(spend_kpis.spend, 0) as {{ money_type() }}) as spend,
        case when coalesce(order_kpis.count_new_customers, 0) > 0
            then cast(coalesce(spend_kpis.spend, 0) as double) / order_kpis.count_new_customers
        end as cac
    from calendar
    left join order_kpis
        on calendar.period_date = order_kpis.period_date
    left join session_kpis
        on calendar.period_date = session_kpis.period_date
    left join spend_kpis
        on calendar.period_date = spend_kpis.period_date

),

kpis as (

    select
        period_date as {{ date_column }},
        revenue,
        count_orders,
        aov,
        count_new_customers,
        count_repeat_customers,
        repeat_revenue,
        repeat_rate,
        count_sessions,
        conversion_rate,
        cart_abandonment_rate,
        spend,
        cac
    from joined

)
{%- endmacro %}
