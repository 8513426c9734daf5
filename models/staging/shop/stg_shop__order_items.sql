-- One row per order line of a valid order. A line whose order is not (yet) among the valid orders
-- waits in quarantine.quarantine_order_items as an orphan and appears here on the first run after
-- its order arrives (this model is recomputed from raw every run).
with base as (

    select * from {{ ref('base_shop__order_items') }}

),

orders as (

    select order_id from {{ ref('stg_shop__orders') }}

),

final as (

    select
        base.order_id,
        base.line_number,
        base.product_id,
        base.quantity,
        base.unit_price,
        base._source_file
    from base
    inner join orders
        on base.order_id = orders.order_id
    where base.row_outcome = 'kept'

)

select * from final
