-- Events as of as_of_date: the arrivals (base_shop__event_arrivals, incremental) with the run's
-- outcome: a kept event that occurred after as_of_date is `pending` (not known yet on that date).
-- A view: the as_of_date view of an as_of-independent table costs nothing to rebuild.
{{ config(materialized='view') }}

with arrivals as (

    select * from {{ ref('base_shop__event_arrivals') }}

),

final as (

    select
        *,
        case
            when arrival_outcome = 'kept' and occurred_at >= {{ as_of_end() }} then 'pending'
            else arrival_outcome
        end as row_outcome
    from arrivals

)

select * from final
