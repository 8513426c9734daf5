-- One row per customer: latest valid version known by as_of_date. No personal data.
with base as (

    select * from {{ ref('base_shop__customers') }}

),

final as (

    select
        customer_id,
        registered_at,
        cast(registered_at as date) as registered_date,
        acquisition_source,
        {{ channel_key(dbt.split_part('acquisition_source', "'/'", 1)) }} as acquisition_source_key,
        case
            when acquisition_source like '%/%'
                then {{ channel_key(dbt.split_part('acquisition_source', "'/'", 2)) }}
            else '(empty)'
        end as acquisition_medium_key,
        email_opt_in,
        line_opt_in,
        prefecture,
        birth_year,
        updated_at,
        _source_file
    from base
    where row_outcome = 'kept'

)

select * from final
