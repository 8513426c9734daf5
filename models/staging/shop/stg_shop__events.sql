-- One row per web/app event (first arrival of each event_id) that occurred by as_of_date.
with base as (

    select * from {{ ref('base_shop__events') }}

),

final as (

    select
        {{ staged_event_columns() }}
    from base
    where row_outcome = 'kept'

)

select * from final
