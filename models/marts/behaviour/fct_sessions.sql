-- One row per web/app session that started on or before as_of_date: channel and device of the
-- landing event, the funnel steps reached (a step counts when the session had that event or a
-- later one) and the order it purchased. Built from int_sessions.
-- A view, not a table: it is int_sessions column for column (21M rows at 1M customers), so a table
-- wrote every session twice per build; publish copies it into the published file as a table
-- (decision 85). int_sessions is named without the catalog (the warehouse file's name): a view
-- that names it breaks once the file is attached under another name (publish attaches it as
-- `warehouse`); schema-qualified, DuckDB binds it in the view's own catalog.
{{ config(materialized='view') }}

with sessions as (

    select * from {{ ref('int_sessions').include(database=false) }}

),

final as (

    select
        session_id,
        started_at,
        ended_at,
        session_date,
        channel,
        device,
        utm_source,
        utm_medium,
        utm_campaign,
        customer_id,
        is_customer_stitched,
        has_product_view,
        has_add_to_cart,
        has_checkout_start,
        has_purchase,
        is_cart_abandoned,
        order_id,
        count_events
    from sessions

)

select * from final
