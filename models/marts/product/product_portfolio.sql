-- One row per product (catalogue or sold) as of as_of_date: the PPM quadrant of text 003.
--   revenue_share  = product revenue / all product revenue in the last var ppm_window_days (365)
--   revenue_growth = (last window - the window before) / the window before (null when it had none)
--   high share: share >= var ppm_share_threshold (null = 1 / number of products sold in the window)
--   high growth: growth >= var ppm_growth_threshold (10%), or new sales with none before
--   star (high, high), cash_cow (high share, low growth), question_mark (low share, high growth), dog.
{%- set window = var('ppm_window_days') %}
with sales as (

    select order_date, product_id, category, line_value
    from {{ ref('int_purchase_lines') }}

),

products as (

    select product_id, category from {{ ref('stg_shop__products') }}
    union
    select distinct product_id, category from sales

),

windows as (

    select
        product_id,
        sum(case when order_date > {{ add_days(as_of_date(), -window) }} then line_value else 0 end) as revenue_current,
        sum(case when order_date > {{ add_days(as_of_date(), -2 * window) }}
            and order_date <= {{ add_days(as_of_date(), -window) }} then line_value else 0 end) as revenue_previous
    from sales
    group by product_id

),

totals as (

    select
        sum(revenue_current) as revenue_total,
        sum(case when revenue_current > 0 then 1 else 0 end) as products_sold
    from windows

),

measured as (

    select
        products.product_id,
        products.category,
        cast(coalesce(windows.revenue_current, 0) as {{ money_type() }}) as revenue_current,
        cast(coalesce(windows.revenue_previous, 0) as {{ money_type() }}) as revenue_previous,
        coalesce({{ safe_divide('windows.revenue_current', 'totals.revenue_total') }}, 0) as revenue_share,
        case when windows.revenue_previous > 0
            then cast(windows.revenue_current - windows.revenue_previous as double) / windows.revenue_previous
        end as revenue_growth,
        {%- if var('ppm_share_threshold') is none %}
        {{ safe_divide(1, 'totals.products_sold') }} as share_threshold
        {%- else %}
        cast({{ var('ppm_share_threshold') }} as double) as share_threshold
        {%- endif %}
    from products
    cross join totals
    left join windows
        on products.product_id = windows.product_id

),

final as (

    select
        product_id,
        category,
        revenue_current,
        revenue_previous,
        revenue_share,
        revenue_growth,
        share_threshold,
        case
            when revenue_share >= share_threshold and (revenue_growth >= {{ var('ppm_growth_threshold') }} or (revenue_previous = 0 and revenue_current > 0)) then 'star'
            when revenue_share >= share_threshold then 'cash_cow'
            when revenue_growth >= {{ var('ppm_growth_threshold') }} or (revenue_previous = 0 and revenue_current > 0) then 'question_mark'
            else 'dog'
        end as ppm_quadrant
    from measured

)

select * from final
