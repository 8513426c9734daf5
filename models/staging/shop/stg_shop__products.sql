-- One row per product: latest valid version known by as_of_date.
with base as (

    select * from {{ ref('base_shop__products') }}

),

final as (

    select
        product_id,
        product_name,
        category,
        unit_cost,
        launched_at,
        updated_at,
        _source_file
    from base
    where row_outcome = 'kept'

)

select * from final
