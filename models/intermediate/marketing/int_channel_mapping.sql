-- One row per normalised (source_key, medium_key) pair of a session's landing event, of spend or
-- of customers, with the channel of the first matching rule of the seed channel_rules (lowest
-- priority wins; a pair no rule matches is `other`, never dropped). The only place raw sources
-- become channels.
-- Events: only a session's landing event gives it a channel (raw contract), so only the landing
-- pairs are looked up, read from the session summaries (one row per session) instead of every
-- event (decision 95). The summaries hold every session loaded, whatever as_of_date: a pair of
-- a later session is a row nobody joins, never a wrong channel.
with events as (

    select distinct source_key, medium_key from {{ ref('int_session_summaries') }}

),

spend as (

    select distinct source_key, medium_key from {{ ref('stg_shop__marketing_spends') }}

),

customers as (

    select distinct acquisition_source_key as source_key, acquisition_medium_key as medium_key
    from {{ ref('stg_shop__customers') }}

),

rules as (

    select
        priority,
        lower({{ trim_spaces('source') }}) as rule_source,
        lower({{ trim_spaces('medium') }}) as rule_medium,
        channel
    from {{ ref('channel_rules') }}

),

pairs as (

    select source_key, medium_key from events
    union
    select source_key, medium_key from spend
    union
    select source_key, medium_key from customers

),

matched as (

    select
        pairs.source_key,
        pairs.medium_key,
        rules.channel,
        row_number() over (
            partition by pairs.source_key, pairs.medium_key
            order by rules.priority, rules.channel
        ) as match_rank
    from pairs
    left join rules
        on (rules.rule_source = '*' or rules.rule_source = pairs.source_key)
        and (rules.rule_medium = '*' or rules.rule_medium = pairs.medium_key)

),

final as (

    select
        source_key,
        medium_key,
        coalesce(channel, 'other') as channel
    from matched
    where match_rank = 1

)

select * from final
