-- Grain: one row per known customer x product they bought (purchases on or before as_of_date).
-- Rule (domain.md "Personalized offer"): offers are scored from what a customer owns, and the
-- products of their last purchase count double (weight 2.0, else 1.0). Two exclusions are decided
-- here, per owned product: is_one_off_category, a product of a one-off category (seed
-- product_categories: nobody wants a second coat, text 004), and is_within_cycle, bought within the
-- product's usual repurchase cycle, so not offered to this customer now. The cycle is the median
-- number of days between two purchases of the product by the same customer; var
-- offer_default_cycle_days when nobody repurchased it.
with lines as (

    select customer_id, order_date, product_id, category
    from {{ ref('int_purchase_lines') }}
    where customer_id is not null

),

one_off as (

    select distinct category from {{ ref('product_categories') }} where is_one_off

),

owned as (

    select customer_id, product_id, category, max(order_date) as last_bought_date
    from lines
    group by customer_id, product_id, category

),

last_purchase as (

    select customer_id, max(order_date) as last_purchase_date from lines group by customer_id

),

-- the usual repurchase cycle of each product: median gap between a customer's purchases of it
repurchase_gaps as (

    select
        product_id,
        {{ days_between('previous_date', 'order_date') }} as gap_days
    from (
        select
            customer_id,
            product_id,
            order_date,
            lag(order_date) over (partition by customer_id, product_id order by order_date) as previous_date
        from (select distinct customer_id, product_id, order_date from lines) as distinct_days
    ) as sequenced
    where previous_date is not null

),

cycles as (

    select product_id, {{ percentile_cont('gap_days', 0.5) }} as cycle_days
    from repurchase_gaps
    group by product_id

),

final as (

    select
        owned.customer_id,
        owned.product_id,
        owned.category,
        owned.last_bought_date,
        case when owned.last_bought_date = last_purchase.last_purchase_date then 2.0 else 1.0 end as weight,
        one_off.category is not null as is_one_off_category,
        {{ days_between('owned.last_bought_date', as_of_date()) }}
            < coalesce(cycles.cycle_days, {{ var('offer_default_cycle_days') }}) as is_within_cycle
    from owned
    inner join last_purchase on owned.customer_id = last_purchase.customer_id
    left join cycles on owned.product_id = cycles.product_id
    left join one_off on owned.category = one_off.category

)

select * from final
