-- One row per period (week starting Monday, month) x product sold in it: revenue (quantity x
-- unit_price of purchased lines), quantity and rank by revenue within the period (equal revenue,
-- equal rank). The current period runs to as_of_date. Text 004's ranking content.
with by_period as (

    select * from {{ ref('int_product_sales_periods') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

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
