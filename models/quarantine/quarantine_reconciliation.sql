-- One row per raw table: rows read = kept + quarantined + superseded + pending.
-- `pending` rows are valid versions dated after as_of_date (not known yet on that date); it is 0
-- in a run for today. The data test assert_quarantine_reconciles fails when a row is unaccounted.
{%- set tables = ['orders', 'order_items', 'customers', 'products', 'events', 'marketing_spend', 'subscriptions'] %}
{%- set staging = {'orders': 'stg_shop__orders', 'order_items': 'stg_shop__order_items', 'customers': 'stg_shop__customers',
                   'products': 'stg_shop__products', 'events': 'stg_shop__events', 'marketing_spend': 'stg_shop__marketing_spends',
                   'subscriptions': 'stg_shop__subscriptions'} %}
with
{% for t in tables %}
read_{{ t }} as (
    select cast(count(*) as bigint) as n from {{ source('shop', t) }}
),
outcomes_{{ t }} as (
    select
        cast(sum(case when row_outcome = 'superseded' then 1 else 0 end) as bigint) as superseded,
        cast(sum(case when row_outcome = 'pending' then 1 else 0 end) as bigint) as pending
    from {{ ref('base_shop__' ~ t) }}
),
kept_{{ t }} as (
    select cast(count(*) as bigint) as n from {{ ref(staging[t]) }}
),
quarantined_{{ t }} as (
    select cast(count(*) as bigint) as n from {{ ref('quarantine_' ~ t) }}
),
{% endfor %}
{%- raw %}
-- order lines waiting for an order dated after as_of_date are pending, not orphans
{%- endraw %}
pending_items as (
    select cast(count(*) as bigint) as n
    from {{ ref('base_shop__order_items') }} as items
    where items.row_outcome = 'kept'
        and items.order_id not in (select kept_orders.order_id from {{ ref('stg_shop__orders') }} as kept_orders)
        and items.order_id in (
            select base_orders.order_id from {{ ref('base_shop__orders') }} as base_orders
            where base_orders.row_outcome = 'pending'
        )
),

counts as (
{% for t in tables %}
    select
        '{{ t }}' as table_name,
        read_{{ t }}.n as rows_read,
        kept_{{ t }}.n as rows_kept,
        quarantined_{{ t }}.n as rows_quarantined,
        coalesce(outcomes_{{ t }}.superseded, 0) as rows_superseded,
        {% if t == 'order_items' %}pending_items.n{% else %}coalesce(outcomes_{{ t }}.pending, 0){% endif %} as rows_pending
    from read_{{ t }}
    cross join outcomes_{{ t }}
    cross join kept_{{ t }}
    cross join quarantined_{{ t }}
    {% if t == 'order_items' %}cross join pending_items{% endif %}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),

final as (

    select
        table_name,
        rows_read,
        rows_kept,
        rows_quarantined,
        rows_superseded,
        rows_pending,
        rows_read = rows_kept + rows_quarantined + rows_superseded + rows_pending as is_reconciled,
        {{ safe_divide('rows_quarantined', 'rows_read') }} as quarantined_share
    from counts

)

select * from final
