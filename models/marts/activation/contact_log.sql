-- One row per customer x audience x entry date, as logged when that day's exports were made
-- (source activation.contact_log, appended by orchestration/activation/contact_log.py): never
-- recomputed from today's data. The marts.md columns; the API's detail stays in the source.
with logged as (

    select * from {{ source('activation', 'contact_log') }}

),

final as (

    select
        customer_id,
        audience,
        cast(entry_date as date) as entry_date,
        channel,
        cast(send_date as date) as send_date,
        cast(send_hour as integer) as send_hour,
        is_holdout,
        offer_1_product_id,
        offer_2_product_id,
        cast(model_fit_as_of_date as date) as model_fit_as_of_date,
        is_reconstructed,
        delivery_status
    from logged
    where entry_date <= {{ as_of_date() }}

)

select * from final
