-- One row per period (week starting Monday, month) x product sold in it: revenue (quantity x
-- unit_price of purchased lines), quantity and rank by revenue within the period (equal revenue,
-- equal rank). The current period runs to as_of_date. Text 004's ranking content.
{%- set grains = ['week', 'month'] %}
with sales as (

    select order_date, product_id, line_value, quantity
    from {{ ref('int_purchase_lines') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

by_period as (

{%- for grain in grains %}
    select
        '{{ grain }}' as period_grain,
        cast({{ dbt.date_trunc(grain, 'order_date') }} as date) as period_start_date,
        product_id,
        cast(sum(line_value) as {{ money_type() }}) as revenue,
        cast(sum(quantity) as bigint) as quantity
    from sales
    group by 1, 2, 3
    {% if not loop.last %}union all{% endif %}
{%- endfor %}

),

final as (

    select
        by_period.period_grain,
        by_period.period_start_date,
        by_period.product_id,
        products.product_name,
        coalesce(products.category, 'unknown') as category,
        by_period.revenue,
        by_period.quantity,
        cast(rank() over (
            partition by by_period.period_grain, by_period.period_start_date order by by_period.revenue desc
        ) as bigint) as rank
    from by_period
    left join products
        on by_period.product_id = products.product_id

)

select * from final
