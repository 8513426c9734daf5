{#- The CPM history (domain.md "CPM"): the spine int_customer_month_ends and the incremental state
    of customer_portfolio_monthly (decision 152). -#}

{#- One row per customer per CPM row date (every month end on or after the customer's first
    purchase and before as_of_date, plus as_of_date itself), with purchases, revenue and last
    purchase date cumulated up to and including that date. int_customer_month_ends is this whole;
    an incremental day of customer_portfolio_monthly asks for the rows dated on or after `since`
    (the last run's as_of_date) and every row of the customers of `redo` (a query of customer_id),
    both relations with an as_of_date / customer_id column. -#}
{% macro customer_month_ends(since=none, redo=none) -%}
with purchases as (

    select customer_id, order_date, order_total
    from {{ ref('int_orders_enriched') }}
    where is_purchase and customer_id is not null

),

bounds as (

    select {{ dbt.date_trunc('month', 'min(order_date)') }} as first_month
    from purchases

),

numbers as (

    {{ number_series(4) }}

),

-- every month end from the first purchase month up to (not including) as_of_date, then as_of_date
month_ends as (

    select cast({{ dbt.last_day(dbt.dateadd('month', 'numbers.n', 'bounds.first_month'), 'month') }} as date) as row_date
    from bounds
    cross join numbers
    where numbers.n <= {{ dbt.datediff('bounds.first_month', as_of_date(), 'month') }}

),

row_dates as (

    select row_date from month_ends where row_date < {{ as_of_date() }}
    union all
    select {{ as_of_date() }} as row_date

),

-- each purchase falls into the first row date on or after it: its month end, or as_of_date
bucketed as (

    select
        customer_id,
        case
            when cast({{ dbt.last_day('order_date', 'month') }} as date) < {{ as_of_date() }}
                then cast({{ dbt.last_day('order_date', 'month') }} as date)
            else {{ as_of_date() }}
        end as row_date,
        count(*) as count_purchases,
        sum(order_total) as revenue,
        max(order_date) as last_purchase_date,
        min(order_date) as first_order_date
    from purchases
    group by 1, 2

),

-- the customer's totals at each row date with purchases, and the next such date: they hold for
-- every row date up to it (decision 94: cumulating over the 1.6M dates with purchases, not
-- over the 24.5M customer x row dates, which a window had to sort)
states as (

    select
        customer_id,
        row_date,
        lead(row_date) over (partition by customer_id order by row_date) as next_row_date,
        min(first_order_date) over (partition by customer_id) as first_purchase_date,
        cast(sum(count_purchases) over (
            partition by customer_id order by row_date rows between unbounded preceding and current row
        ) as bigint) as count_purchases_to_date,
        cast(sum(revenue) over (
            partition by customer_id order by row_date rows between unbounded preceding and current row
        ) as {{ money_type() }}) as revenue_to_date,
        max(last_purchase_date) over (
            partition by customer_id order by row_date rows between unbounded preceding and current row
        ) as last_purchase_date
    from bucketed

),

-- every row date on or after the customer's first purchase (the first row date with purchases,
-- unless an order dated after as_of_date is known: it counts in the as_of_date row, which a
-- customer has only from their first purchase on), each with the totals of the latest row date
-- with purchases on or before it
{%- set join_rows %}
    from states
    inner join row_dates
        on row_dates.row_date >= states.row_date
        and row_dates.row_date < coalesce(states.next_row_date, {{ add_days(as_of_date(), 1) }})
        and row_dates.row_date >= states.first_purchase_date
{%- endset %}
{%- set columns %}
        states.customer_id,
        row_dates.row_date,
        states.first_purchase_date,
        states.count_purchases_to_date,
        states.revenue_to_date,
        states.last_purchase_date
{%- endset %}
cumulative as (

    select
        {{- columns }}
    {{- join_rows }}
    {%- if since is not none %}
    -- every customer's rows dated since the last run, every row of the customers to redo
    where row_dates.row_date >= (select last_run.as_of_date from {{ since }} as last_run)
        and states.customer_id not in (select redo.customer_id from {{ redo }} as redo)
    union all
    select
        {{- columns }}
    {{- join_rows }}
    where states.customer_id in (select redo.customer_id from {{ redo }} as redo)
    {%- endif %}

)

select * from cumulative
{%- endmacro %}

{#- customer_portfolio_monthly's incremental state (decision 152): one row written by the model's
    post-hook in the same transaction as its rows. -#}
{% macro cpm_state_relation() -%}
    {{- return(api.Relation.create(database=this.database, schema='intermediate',
                                   identifier='customer_portfolio_monthly_state')) -}}
{%- endmacro %}

{#- A fingerprint of what decides a row besides the orders: the vars and the raw contract of orders,
    and the files of the models and seed between them. State written under another fingerprint
    makes the next run redo every customer. Changes to the macros need `--full-refresh`, as for
    every incremental model. -#}
{% macro cpm_rules_checksum() -%}
    {%- set parts = [] -%}
    {%- for name in ['business_timezone', 'earliest_valid_date', 'max_days_after_load', 'cpm_lapse_days',
                     'cpm_toddler_tenure_days', 'cpm_steady_revenue', 'cpm_trendy_tenure_days'] -%}
        {%- do parts.append(name ~ '=' ~ var(name)) -%}
    {%- endfor -%}
    {%- do parts.append('contract=' ~ (var('raw_contract')['orders'] | tojson)) -%}
    {%- do parts.extend(file_checksums(['cpm_states', 'base_shop__orders', 'stg_shop__orders', 'int_orders_enriched',
                                        'int_customer_month_ends', 'customer_portfolio_monthly'])) -%}
    {{- return(local_md5(parts | sort | join('|'))) -}}
{%- endmacro %}

{#- What the last run knew, one row: its as_of_date and the newest load of orders it read. Without
    a usable state (none yet, another fingerprint, or a later as_of_date: a backfill) both are
    1900-01-01, so every row is redone. -#}
{% macro cpm_last_run() -%}
    {%- set state = load_relation(cpm_state_relation()) -%}
    {%- if state is none -%}
    (select cast('1900-01-01' as date) as as_of_date, cast('1900-01-01 00:00:00' as timestamp) as loaded_through)
    {%- else -%}
    (
        select
            coalesce(max(as_of_date), cast('1900-01-01' as date)) as as_of_date,
            coalesce(max(orders_loaded_through), cast('1900-01-01 00:00:00' as timestamp)) as loaded_through
        from {{ state }}
        where rules_checksum = '{{ cpm_rules_checksum() }}'
            and as_of_date <= {{ as_of_date() }}
    )
    {%- endif -%}
{%- endmacro %}

{#- The customers whose rows before the last run's as_of_date can differ from what it wrote: those
    of every version of an order that has a version loaded since, or one that was not yet known on
    that day (effective after it, pending then). Every version: an order re-sent with another
    customer or status changes the customer it leaves as well as the one it joins. -#}
{% macro cpm_redo_customers(last_run) -%}
    (
        select distinct versions.customer_id
        from {{ ref('base_shop__orders') }} as versions
        where versions.customer_id is not null
            and versions.order_id in (
                select changed.order_id
                from {{ ref('base_shop__orders') }} as changed
                cross join {{ last_run }} as last_run
                where changed._loaded_at > last_run.loaded_through
                    or cast(changed.effective_at as date) > last_run.as_of_date
            )
    )
{%- endmacro %}

{#- Pre-hook: forget the rows the run writes again (dated on or after the last run's as_of_date,
    and every row of the customers to redo; all when there is no usable state). -#}
{% macro cpm_forget_rows() -%}
    {%- if is_incremental() -%}
        {%- set last_run = cpm_last_run() -%}
        delete from {{ this }}
        where month_end_date >= (select as_of_date from {{ last_run }} as last_run)
            or customer_id in {{ cpm_redo_customers(last_run) }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook (DuckDB, where the model is incremental): record what this run knew. -#}
{% macro cpm_save_state() -%}
    {%- if incremental_materialization() == 'incremental' -%}
        create or replace table {{ cpm_state_relation() }} as
        select
            {{ as_of_date() }} as as_of_date,
            (select coalesce(max(_loaded_at), cast('1900-01-01 00:00:00' as timestamp)) from {{ ref('base_shop__orders') }})
                as orders_loaded_through,
            '{{ cpm_rules_checksum() }}' as rules_checksum
    {%- endif -%}
{%- endmacro %}
