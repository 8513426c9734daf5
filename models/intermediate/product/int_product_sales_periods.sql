-- One row per period (week starting Monday, month) x product sold in it: revenue (quantity x
-- unit_price of purchased lines) and quantity. The current period runs to as_of_date. The mart
-- product_ranking ranks it (text 004's ranking content); the personalized offers' ranking
-- fallback (int_offer_candidates) reads the last four weeks.
{%- set grains = ['week', 'month'] %}
with sales as (

    select order_date, product_id, line_value, quantity
    from {{ ref('int_purchase_lines') }}

),

final as (

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

)

select * from final
