-- One row per raw order_items row that broke the contract, plus orphans: valid lines whose order
-- is not (yet) among the valid orders. Orphans are released (they leave this table and appear in
-- stg_shop__order_items) on the first run after their order arrives.
{% set reasons_sql %}
    select _source_file, _row_number, reject_reason
    from {{ ref('base_shop__order_items') }}
    where row_outcome = 'quarantined'

    union all

    select items._source_file, items._row_number, 'orphan: order_id not among valid orders' as reject_reason
    from {{ ref('base_shop__order_items') }} as items
    left join {{ ref('stg_shop__orders') }} as orders
        on items.order_id = orders.order_id
    left join (
        select distinct order_id from {{ ref('base_shop__orders') }} where row_outcome = 'pending'
    ) as pending_orders
        on items.order_id = pending_orders.order_id
    where items.row_outcome = 'kept'
        and orders.order_id is null
        and pending_orders.order_id is null
{% endset %}
{{ quarantine_rows('order_items', reasons_sql) }}
