-- One row per CPM state of seed cpm_states, `none` (not yet a customer) included: its segment,
-- status, Japanese names, segment rank and the order BI lists the states in (none, then the
-- active states by segment rank, then the lapsed ones; steady before trendy, which share a rank).
-- BI reads state names and order from here, never from a list of its own.
with states as (

    select * from {{ ref('cpm_states') }}

),

final as (

    select
        cpm_state,
        cpm_segment,
        cpm_status,
        cpm_state_ja,
        cpm_segment_ja,
        cast(segment_rank as int) as segment_rank,
        cast(row_number() over (
            order by
                case cpm_status when 'none' then 0 when 'active' then 1 else 2 end,
                segment_rank,
                cpm_state
        ) as int) as state_order
    from states

)

select * from final
